package coursesim

import (
	"fmt"
	"strings"
)

// Correctness thresholds, as fractions, from the spec (the original's
// maximum_get_fail_fraction, maximum_put_fail_fraction,
// maximum_get_generation_fail_fraction and appends_batched_fraction).
const (
	MaxUnansweredGetFraction = 0.5
	MaxUnansweredPutFraction = 0.5
	MaxGetGenFailFraction    = 0.1
	MinReplicationFraction   = 0.5
)

// Tier is a performance grade: 0 "bonus", 1 "full", 2 "partial", 3 "none".
type Tier int

// The four tiers.
const (
	TierBonus Tier = iota
	TierFull
	TierPartial
	TierNone
)

// String names the tier as reports do.
func (t Tier) String() string {
	switch t {
	case TierBonus:
		return "bonus"
	case TierFull:
		return "full"
	case TierPartial:
		return "partial"
	case TierNone:
		return "none"
	}
	return fmt.Sprintf("Tier(%d)", int(t))
}

// TierOf grades v against [t0, t1, t2] with strict comparisons: tier 0 if
// v < t0, 1 if v < t1, 2 if v < t2, else 3.
func TierOf(v float64, th [3]float64) Tier {
	for i, t := range th {
		if v < t {
			return Tier(i)
		}
	}
	return TierNone
}

// BestTier is the best tier a metric can reach. Metrics are never negative,
// so a threshold of 0 can never be beaten: where t0 is 0, tier 1 is best.
func BestTier(th [3]float64) Tier {
	for i, t := range th {
		if t > 0 {
			return Tier(i)
		}
	}
	return TierNone
}

// MetricScore is one performance metric of one run.
type MetricScore struct {
	Metric     Metric     `json:"metric"`
	Value      float64    `json:"value"`
	Thresholds [3]float64 `json:"thresholds"`
	Tier       Tier       `json:"tier"`
	Best       Tier       `json:"best_tier"`
	// AtBest means the metric reached its best tier and the run was
	// correct: performance is not scored when correctness fails.
	AtBest bool `json:"at_best"`
}

// Verdict is the judgement of one run.
type Verdict struct {
	Correct bool `json:"correct"`
	// Reasons says why a run is not correct, one line per failed check.
	Reasons []string `json:"reasons,omitempty"`
	// Metrics is empty for scenarios without thresholds.
	Metrics []MetricScore `json:"metrics,omitempty"`
	// AtBest counts the metrics at their best tier, out of len(Metrics).
	AtBest int `json:"at_best"`
}

// Judge applies the spec's correctness checks and, where the scenario has
// thresholds, grades the four performance metrics.
func Judge(sc *Scenario, st *Stats) Verdict {
	var v Verdict
	fail := func(format string, args ...any) { v.Reasons = append(v.Reasons, fmt.Sprintf(format, args...)) }
	if st.IncorrectMessages > 0 {
		fail("%d incorrect message(s) from replicas", st.IncorrectMessages)
	}
	if st.IncorrectReplies > 0 {
		fail("%d incorrect reply(ies) to clients (unknown MID, missing MID or wrong type)", st.IncorrectReplies)
	}
	if st.IncorrectAnswers > 0 {
		fail("%d incorrect answer(s): a get returned a value other than the last one acknowledged", st.IncorrectAnswers)
	}
	if st.Died > 0 {
		fail("%d replica(s) died on their own", st.Died)
	}
	if st.PacketStorm {
		fail("packet storm: more than %d replica-to-replica messages, run stopped early", sc.MaxPackets)
	}
	if st.KeysStored == 0 {
		fail("no state stored: no put was ever acknowledged")
	}
	if limit := MaxUnansweredGetFraction * float64(st.GetsGenerated); float64(st.UnansweredGets) > limit {
		fail("too many unanswered gets: %d > %g x %d", st.UnansweredGets, MaxUnansweredGetFraction, st.GetsGenerated)
	}
	if limit := MaxUnansweredPutFraction * float64(st.PutsGenerated); float64(st.UnansweredPuts) > limit {
		fail("too many unanswered puts: %d > %g x %d", st.UnansweredPuts, MaxUnansweredPutFraction, st.PutsGenerated)
	}
	if limit := MaxGetGenFailFraction * float64(st.GetsGenerated); float64(st.GetGenFailures) > limit {
		fail("too many gets could not be generated (no acknowledged key yet): %d > %g x %d", st.GetGenFailures, MaxGetGenFailFraction, st.GetsGenerated)
	}
	if need := float64(sc.Requests) * float64(sc.Replicas) * (1 - sc.Mix) * MinReplicationFraction; float64(st.TotalMsgs) < need {
		fail("too few replica-to-replica messages for replication: %d < %d x %d x %g x %g = %g",
			st.TotalMsgs, sc.Requests, sc.Replicas, 1-sc.Mix, MinReplicationFraction, need)
	}
	v.Correct = len(v.Reasons) == 0
	if sc.Thresholds == nil {
		return v
	}
	for _, m := range Metrics() {
		th := sc.Thresholds.For(m)
		ms := MetricScore{Metric: m, Value: st.Value(m), Thresholds: th}
		ms.Tier = TierOf(ms.Value, th)
		ms.Best = BestTier(th)
		ms.AtBest = v.Correct && ms.Tier <= ms.Best
		if ms.AtBest {
			v.AtBest++
		}
		v.Metrics = append(v.Metrics, ms)
	}
	return v
}

// String is a one-line summary of a verdict.
func (v Verdict) String() string {
	if v.Correct {
		return fmt.Sprintf("PASS %d/%d metrics at best tier", v.AtBest, len(v.Metrics))
	}
	return "FAIL: " + strings.Join(v.Reasons, "; ")
}
