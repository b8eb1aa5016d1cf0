package coursesim

import (
	"strings"
	"testing"
)

func TestTierOfIsStrict(t *testing.T) {
	th := [3]float64{1200, 3000, 5000}
	for _, tt := range []struct {
		v    float64
		want Tier
	}{
		{0, TierBonus}, {1199, TierBonus}, {1200, TierFull}, {2999, TierFull},
		{3000, TierPartial}, {4999, TierPartial}, {5000, TierNone}, {1e9, TierNone},
	} {
		if got := TierOf(tt.v, th); got != tt.want {
			t.Errorf("TierOf(%v, %v) = %v, want %v", tt.v, th, got, tt.want)
		}
	}
	lat := [3]float64{0.0004, 0.002, 0.05}
	if got := TierOf(0.0004, lat); got != TierFull {
		t.Errorf("a median of exactly t0 = 0.0004 s is tier %v, want full", got)
	}
	if got := TierOf(0.000399, lat); got != TierBonus {
		t.Errorf("a median just under t0 is tier %v, want bonus", got)
	}
}

func TestBestTierWhereT0IsZero(t *testing.T) {
	for _, tt := range []struct {
		th   [3]float64
		want Tier
	}{
		{[3]float64{0, 1, 2}, TierFull},
		{[3]float64{1, 4, 10}, TierBonus},
		{[3]float64{0, 0, 5}, TierPartial},
		{[3]float64{0.00015, 0.005, 0.05}, TierBonus},
	} {
		if got := BestTier(tt.th); got != tt.want {
			t.Errorf("BestTier(%v) = %v, want %v", tt.th, got, tt.want)
		}
	}
	// With failures [0, 1, 2], zero failures is tier 1, the best there is.
	if TierOf(0, [3]float64{0, 1, 2}) != TierFull {
		t.Error("0 failures against [0,1,2] is not tier 1")
	}
}

// goodStats passes every correctness check of scenario sc with room to
// spare; tests break one thing at a time.
func goodStats(sc *Scenario) Stats {
	gets := int(float64(sc.Requests) * sc.Mix)
	return Stats{
		TotalMsgs:     sc.Requests * sc.Replicas,
		GetsGenerated: gets,
		PutsGenerated: sc.Requests - gets,
		KeysStored:    10,
	}
}

func standardLike() *Scenario {
	return &Scenario{
		Name: "s", Replicas: 5, Requests: 500, Lifetime: 30, Mix: 0.2, MaxPackets: DefaultMaxPackets,
		Thresholds: &Thresholds{
			TotalMsgs: [3]float64{2200, 4000, 5000}, Failures: [3]float64{0, 1, 2},
			Duplicates: [3]float64{0, 2, 5}, MedianLatency: [3]float64{0.001, 0.005, 0.05},
		},
	}
}

func TestJudgeCorrectnessThresholds(t *testing.T) {
	sc := standardLike()
	// 500 requests, mix 0.2: 100 gets, 400 puts; replication needs
	// total_msgs >= 500 x 5 x 0.8 x 0.5 = 1000.
	tests := []struct {
		name   string
		mutate func(*Stats)
		ok     bool
		reason string
	}{
		{"all good", func(*Stats) {}, true, ""},
		{"one incorrect message", func(s *Stats) { s.IncorrectMessages = 1 }, false, "incorrect message"},
		{"one incorrect reply", func(s *Stats) { s.IncorrectReplies = 1 }, false, "incorrect reply"},
		{"one incorrect answer", func(s *Stats) { s.IncorrectAnswers = 1 }, false, "incorrect answer"},
		{"a replica died", func(s *Stats) { s.Died = 1 }, false, "died"},
		{"packet storm", func(s *Stats) { s.PacketStorm = true }, false, "packet storm"},
		{"nothing stored", func(s *Stats) { s.KeysStored = 0 }, false, "no state stored"},
		{"unanswered gets at the limit", func(s *Stats) { s.UnansweredGets = 50 }, true, ""},
		{"unanswered gets over the limit", func(s *Stats) { s.UnansweredGets = 51 }, false, "unanswered gets"},
		{"unanswered puts at the limit", func(s *Stats) { s.UnansweredPuts = 200 }, true, ""},
		{"unanswered puts over the limit", func(s *Stats) { s.UnansweredPuts = 201 }, false, "unanswered puts"},
		{"get generation failures at the limit", func(s *Stats) { s.GetGenFailures = 10 }, true, ""},
		{"get generation failures over the limit", func(s *Stats) { s.GetGenFailures = 11 }, false, "could not be generated"},
		{"replication at the limit", func(s *Stats) { s.TotalMsgs = 1000 }, true, ""},
		{"replication under the limit", func(s *Stats) { s.TotalMsgs = 999 }, false, "too few replica-to-replica"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := goodStats(sc)
			tt.mutate(&st)
			v := Judge(sc, &st)
			if v.Correct != tt.ok {
				t.Fatalf("correct = %v, want %v (reasons %q)", v.Correct, tt.ok, v.Reasons)
			}
			if !tt.ok && (len(v.Reasons) != 1 || !strings.Contains(v.Reasons[0], tt.reason)) {
				t.Errorf("reasons %q, want one mentioning %q", v.Reasons, tt.reason)
			}
		})
	}
}

func TestJudgeScoresOnlyCorrectRuns(t *testing.T) {
	sc := standardLike()
	st := goodStats(sc)
	st.TotalMsgs = 2199 // bonus
	st.Latency.Median = 0.001
	v := Judge(sc, &st)
	want := map[Metric]struct {
		tier   Tier
		atBest bool
	}{
		MetricTotalMsgs:     {TierBonus, true},
		MetricFailures:      {TierFull, true},  // 0 < 1, and t0 is 0
		MetricDuplicates:    {TierFull, true},  // likewise
		MetricMedianLatency: {TierFull, false}, // 0.001 is not < 0.001
	}
	for _, ms := range v.Metrics {
		w := want[ms.Metric]
		if ms.Tier != w.tier || ms.AtBest != w.atBest {
			t.Errorf("%s = %v: tier %v at best %v, want %v %v", ms.Metric, ms.Value, ms.Tier, ms.AtBest, w.tier, w.atBest)
		}
	}
	if v.AtBest != 3 || len(v.Metrics) != 4 {
		t.Errorf("at best %d of %d, want 3 of 4", v.AtBest, len(v.Metrics))
	}
	st.UnansweredPuts = 1 // a failure: failures metric 1 is tier 2
	st.Died = 1
	v = Judge(sc, &st)
	if v.Correct || v.AtBest != 0 {
		t.Errorf("incorrect run scored %d metrics at best", v.AtBest)
	}
	if v.Metrics[1].Tier != TierPartial || v.Metrics[1].Value != 1 {
		t.Errorf("failures metric %+v, want value 1 tier partial (fail replies + unanswered)", v.Metrics[1])
	}
	noTh := *sc
	noTh.Thresholds = nil
	st = goodStats(sc)
	if v := Judge(&noTh, &st); !v.Correct || len(v.Metrics) != 0 {
		t.Errorf("scenario without thresholds: %+v", v)
	}
}

func TestSummarizeCountsStandardScore(t *testing.T) {
	sc := standardLike()
	st := goodStats(sc)
	good := &Result{Scenario: *sc, Stats: st, Verdict: Judge(sc, &st)}
	extra := *sc
	extra.Thresholds = nil
	other := &Result{Scenario: extra, Stats: st, Verdict: Judge(&extra, &st)}
	s := Summarize([]*Result{good, good, other})
	if s.MaxScore != 8 || s.AtBest != 2*good.Verdict.AtBest || s.Passed != 3 || s.Runs != 3 {
		t.Errorf("summary %+v", s)
	}
	if !strings.Contains(s.String(), "/8 metrics at their best tier") {
		t.Errorf("score line %q", s)
	}
}
