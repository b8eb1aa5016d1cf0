package coursesim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Defaults the spec states, and the limits the original simulator enforced.
const (
	// DefaultStartWait is how long replicas run before the first request.
	DefaultStartWait = 5 * time.Second
	// DefaultEndWait is how long the simulator keeps running after the last
	// request before it counts unanswered requests.
	DefaultEndWait = 2 * time.Second
	// DefaultMix is the fraction of gets when a scenario does not say; the
	// original simulator's default.
	DefaultMix = 0.8
	// DefaultMaxPackets is the packet-storm limit: the run stops once more
	// replica-to-replica messages than this have been counted.
	DefaultMaxPackets = 20000
	// MinReplicas and MaxReplicas bound a scenario's cluster size, as the
	// original simulator did.
	MinReplicas = 3
	MaxReplicas = 21
)

// EventType names a fault the simulator injects during a run.
type EventType string

// The five event types of the classroom protocol.
const (
	KillLeader    EventType = "kill_leader"
	KillNonLeader EventType = "kill_non_leader"
	PartEasy      EventType = "part_easy"
	PartHard      EventType = "part_hard"
	PartEnd       EventType = "part_end"
)

func (t EventType) valid() bool {
	switch t {
	case KillLeader, KillNonLeader, PartEasy, PartHard, PartEnd:
		return true
	}
	return false
}

// ScheduledEvent is one fault, Time seconds after the start wait ends.
type ScheduledEvent struct {
	Type EventType `json:"type"`
	Time float64   `json:"time"`
}

// Metric names a performance metric; the names are the spec's.
type Metric string

// The four performance metrics, lower is better for all of them.
const (
	MetricTotalMsgs     Metric = "total_msgs"
	MetricFailures      Metric = "failures"
	MetricDuplicates    Metric = "duplicates"
	MetricMedianLatency Metric = "median_latency"
)

// Metrics lists the performance metrics in the order reports show them.
func Metrics() []Metric {
	return []Metric{MetricTotalMsgs, MetricFailures, MetricDuplicates, MetricMedianLatency}
}

// Thresholds holds the three tier boundaries [t0, t1, t2] of each metric.
// A value v is tier 0 if v < t0, tier 1 if v < t1, tier 2 if v < t2, else 3.
type Thresholds struct {
	TotalMsgs     [3]float64 `json:"total_msgs"`
	Failures      [3]float64 `json:"failures"`
	Duplicates    [3]float64 `json:"duplicates"`
	MedianLatency [3]float64 `json:"median_latency"`
}

// For returns the thresholds of metric m.
func (t *Thresholds) For(m Metric) [3]float64 {
	switch m {
	case MetricTotalMsgs:
		return t.TotalMsgs
	case MetricFailures:
		return t.Failures
	case MetricDuplicates:
		return t.Duplicates
	case MetricMedianLatency:
		return t.MedianLatency
	}
	panic(fmt.Sprintf("coursesim: unknown metric %q", m))
}

// Scenario is one simulator configuration: cluster size, workload, faults
// and, for scored scenarios, the tier thresholds. It is what a scenario file
// holds; durations are seconds in the file.
type Scenario struct {
	// Name identifies the scenario in reports; it defaults to the file name.
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Replicas    int    `json:"replicas"`
	// Requests client requests are spread evenly over Lifetime.
	Requests int `json:"requests"`
	// Lifetime, StartWait and EndWait are seconds; the run lasts
	// StartWait + Lifetime + EndWait.
	Lifetime  float64 `json:"lifetime"`
	StartWait float64 `json:"start_wait"`
	EndWait   float64 `json:"end_wait"`
	// Mix is the fraction of requests that are gets.
	Mix float64 `json:"mix"`
	// Drops is the probability that a replica-to-replica message is lost.
	Drops      float64          `json:"drops"`
	MaxPackets int              `json:"max_packets"`
	Seed       *uint64          `json:"seed,omitempty"`
	Events     []ScheduledEvent `json:"events,omitempty"`
	// Thresholds is nil for scenarios judged on correctness only.
	Thresholds *Thresholds `json:"thresholds,omitempty"`
}

// scenarioFile is the on-disk form: optional fields are pointers so that
// an explicit zero (start_wait 0) differs from an omitted field.
type scenarioFile struct {
	Name        string           `json:"name"`
	Description string           `json:"description"`
	Replicas    int              `json:"replicas"`
	Requests    int              `json:"requests"`
	Lifetime    float64          `json:"lifetime"`
	StartWait   *float64         `json:"start_wait"`
	EndWait     *float64         `json:"end_wait"`
	Mix         *float64         `json:"mix"`
	Drops       float64          `json:"drops"`
	MaxPackets  *int             `json:"max_packets"`
	Seed        *uint64          `json:"seed"`
	Events      []ScheduledEvent `json:"events"`
	Thresholds  *Thresholds      `json:"thresholds"`
}

// ParseScenario decodes a scenario file, fills in defaults and validates it.
// Unknown fields are errors, so that a typo does not silently fall back to a
// default. name is used when the file has no "name".
func ParseScenario(data []byte, name string) (Scenario, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f scenarioFile
	if err := dec.Decode(&f); err != nil {
		return Scenario{}, fmt.Errorf("decode scenario %s: %w", name, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Scenario{}, fmt.Errorf("decode scenario %s: data after the JSON object", name)
	}
	s := Scenario{
		Name:        f.Name,
		Description: f.Description,
		Replicas:    f.Replicas,
		Requests:    f.Requests,
		Lifetime:    f.Lifetime,
		StartWait:   DefaultStartWait.Seconds(),
		EndWait:     DefaultEndWait.Seconds(),
		Mix:         DefaultMix,
		Drops:       f.Drops,
		MaxPackets:  DefaultMaxPackets,
		Seed:        f.Seed,
		Events:      f.Events,
		Thresholds:  f.Thresholds,
	}
	if s.Name == "" {
		s.Name = name
	}
	if f.StartWait != nil {
		s.StartWait = *f.StartWait
	}
	if f.EndWait != nil {
		s.EndWait = *f.EndWait
	}
	if f.Mix != nil {
		s.Mix = *f.Mix
	}
	if f.MaxPackets != nil {
		s.MaxPackets = *f.MaxPackets
	}
	if err := s.Validate(); err != nil {
		return Scenario{}, err
	}
	return s, nil
}

// LoadScenario reads and parses one scenario file.
func LoadScenario(path string) (Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Scenario{}, fmt.Errorf("read scenario: %w", err)
	}
	return ParseScenario(data, strings.TrimSuffix(filepath.Base(path), ".json"))
}

// LoadDir loads every *.json file directly inside dir (not in
// subdirectories), sorted by file name.
func LoadDir(dir string) ([]Scenario, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("list scenarios in %s: %w", dir, err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no scenario files (*.json) in %s", dir)
	}
	sort.Strings(paths)
	out := make([]Scenario, 0, len(paths))
	for _, p := range paths {
		s, err := LoadScenario(p)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Validate reports the first problem that makes the scenario impossible to
// run or to judge.
func (s *Scenario) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("scenario %s: %s", s.Name, fmt.Sprintf(format, args...))
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case s.Name == "":
		return errors.New("scenario has no name")
	case s.Replicas < MinReplicas || s.Replicas > MaxReplicas:
		return bad("replicas must be between %d and %d, not %d", MinReplicas, MaxReplicas, s.Replicas)
	case s.Requests < 0:
		return bad("requests cannot be negative")
	case !finite(s.Lifetime) || s.Lifetime <= 0:
		return bad("lifetime must be a positive number of seconds")
	case !finite(s.StartWait) || s.StartWait < 0:
		return bad("start_wait cannot be negative")
	case !finite(s.EndWait) || s.EndWait < 0:
		return bad("end_wait cannot be negative")
	case !finite(s.Mix) || s.Mix < 0 || s.Mix > 1:
		return bad("mix must be between 0 and 1")
	case !finite(s.Drops) || s.Drops < 0 || s.Drops > 1:
		return bad("drops must be between 0 and 1")
	case s.MaxPackets < 1:
		return bad("max_packets must be positive")
	}
	for i, ev := range s.Events {
		if !ev.Type.valid() {
			return bad("event %d: unknown type %q (want kill_leader, kill_non_leader, part_easy, part_hard or part_end)", i, ev.Type)
		}
		if !finite(ev.Time) || ev.Time < 0 || ev.Time > s.Lifetime {
			return bad("event %d (%s): time %v is outside [0, lifetime %v]", i, ev.Type, ev.Time, s.Lifetime)
		}
	}
	if t := s.Thresholds; t != nil {
		for _, m := range Metrics() {
			th := t.For(m)
			if th[0] < 0 || th[0] > th[1] || th[1] > th[2] {
				return bad("thresholds for %s must satisfy 0 <= t0 <= t1 <= t2, got %v", m, th)
			}
		}
	}
	return nil
}

// Duration is the whole run: start wait, lifetime and end wait.
func (s *Scenario) Duration() time.Duration {
	return seconds(s.StartWait) + seconds(s.Lifetime) + seconds(s.EndWait)
}

func seconds(v float64) time.Duration { return time.Duration(v * float64(time.Second)) }
