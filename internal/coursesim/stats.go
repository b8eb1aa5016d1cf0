package coursesim

import (
	"slices"
	"time"
)

// Stats is everything the simulator counts during a run. The names of the
// four scored quantities follow the spec: TotalMsgs, Failures(), Duplicates
// and Latency.Median.
type Stats struct {
	// TotalMsgs counts replica-to-replica messages when they are sent: a
	// unicast counts 1, a broadcast replicas-1. Dropped, blocked and
	// undeliverable messages count too; hello and messages to clients do not.
	TotalMsgs int `json:"total_msgs"`
	// Dropped were lost to the drops probability, Blocked to a partition,
	// Undeliverable were addressed to a dead replica or one that has not
	// said hello yet.
	Dropped       int `json:"dropped"`
	Blocked       int `json:"blocked"`
	Undeliverable int `json:"undeliverable"`

	// GetsGenerated and PutsGenerated are the requests the schedule drew
	// (the mix decides each); retries are not counted here.
	GetsGenerated int `json:"gets_generated"`
	PutsGenerated int `json:"puts_generated"`
	// GetGenFailures are scheduled gets whose client had no acknowledged key
	// yet; each was sent as a put instead.
	GetGenFailures int `json:"get_generation_failures"`
	// GetsSent and PutsSent count every request datagram, retries included.
	GetsSent int `json:"gets_sent"`
	PutsSent int `json:"puts_sent"`
	// ClientUnsent counts requests that could not be sent at all: no living
	// replica, or the chosen one had not said hello.
	ClientUnsent int `json:"client_unsent"`

	OKGets         int `json:"ok_gets"`
	OKPuts         int `json:"ok_puts"`
	Redirects      int `json:"redirects"`
	FailedGets     int `json:"failed_gets"`
	FailedPuts     int `json:"failed_puts"`
	UnansweredGets int `json:"unanswered_gets"`
	UnansweredPuts int `json:"unanswered_puts"`
	Duplicates     int `json:"duplicates"`

	// IncorrectMessages are replica datagrams that break the protocol (bad
	// JSON, a missing field, a malformed ID, an unknown destination).
	IncorrectMessages int `json:"incorrect_messages"`
	// IncorrectReplies are replies to clients without a MID, of a type other
	// than ok/fail/redirect, or for a MID the client does not know.
	IncorrectReplies int `json:"incorrect_replies"`
	// IncorrectAnswers are gets answered ok with a value other than the last
	// one the client saw acknowledged for that key.
	IncorrectAnswers int `json:"incorrect_answers"`

	// KeysStored is the number of keys some client saw acknowledged.
	KeysStored int `json:"keys_stored"`
	Killed     int `json:"killed"`
	Died       int `json:"died"`
	// PacketStorm means TotalMsgs passed the scenario's max_packets and the
	// run was stopped early.
	PacketStorm bool `json:"packet_storm"`
	// Leaders is the sequence of leaders the simulator believed in ("FFFF"
	// for unknown), consecutive repeats removed, capped at maxLeaderHistory
	// entries; LeaderChanges counts them all.
	Leaders       []string `json:"leaders"`
	LeaderChanges int      `json:"leader_changes"`

	Latency LatencySummary `json:"latency"`
}

// Failures is the scored failures metric: fail replies plus requests still
// unanswered at the end.
func (s *Stats) Failures() int {
	return s.FailedGets + s.FailedPuts + s.UnansweredGets + s.UnansweredPuts
}

// Value returns the value of a performance metric.
func (s *Stats) Value(m Metric) float64 {
	switch m {
	case MetricTotalMsgs:
		return float64(s.TotalMsgs)
	case MetricFailures:
		return float64(s.Failures())
	case MetricDuplicates:
		return float64(s.Duplicates)
	case MetricMedianLatency:
		return s.Latency.Median
	}
	panic("coursesim: unknown metric " + string(m))
}

// LatencySummary describes the latencies of every reply of any type, in
// seconds.
type LatencySummary struct {
	Count int `json:"count"`
	// Median is the spec's median: the element at index count/2 of the
	// sorted latencies (the upper median for an even count), as the
	// original computed it; 0 when there were no replies.
	Median float64 `json:"median"`
	Mean   float64 `json:"mean"`
	P90    float64 `json:"p90"`
	P99    float64 `json:"p99"`
	Max    float64 `json:"max"`
}

// summarize sorts lat in place and summarizes it.
func summarize(lat []time.Duration) LatencySummary {
	if len(lat) == 0 {
		return LatencySummary{}
	}
	slices.Sort(lat)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	return LatencySummary{
		Count:  len(lat),
		Median: lat[len(lat)/2].Seconds(),
		Mean:   (sum / time.Duration(len(lat))).Seconds(),
		P90:    quantile(lat, 0.90).Seconds(),
		P99:    quantile(lat, 0.99).Seconds(),
		Max:    lat[len(lat)-1].Seconds(),
	}
}

// quantile returns the q-quantile of sorted (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)))
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}

// Forwarding describes the simulator's own work per replica datagram: from
// the moment the read returned to the moment the last copy was written to
// the kernel. It is what the simulator adds to each traversal on top of the
// kernel's loopback delivery and wake-ups.
type Forwarding struct {
	Datagrams int     `json:"datagrams"`
	P50Micros float64 `json:"p50_us"`
	P99Micros float64 `json:"p99_us"`
	MaxMicros float64 `json:"max_us"`
}

func summarizeForwarding(samples []time.Duration) Forwarding {
	if len(samples) == 0 {
		return Forwarding{}
	}
	slices.Sort(samples)
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	return Forwarding{
		Datagrams: len(samples),
		P50Micros: us(quantile(samples, 0.5)),
		P99Micros: us(quantile(samples, 0.99)),
		MaxMicros: us(samples[len(samples)-1]),
	}
}
