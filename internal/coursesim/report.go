package coursesim

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// SummaryRow is one run's line in a report.
type SummaryRow struct {
	Name    string        `json:"name"`
	Seed    uint64        `json:"seed"`
	Correct bool          `json:"correct"`
	Reasons []string      `json:"reasons,omitempty"`
	Metrics []MetricScore `json:"metrics,omitempty"`
	Values  []float64     `json:"-"`
	AtBest  int           `json:"at_best"`
}

func summaryRow(r *Result) SummaryRow {
	row := SummaryRow{
		Name: r.Scenario.Name, Seed: r.Seed, Correct: r.Verdict.Correct,
		Reasons: r.Verdict.Reasons, Metrics: r.Verdict.Metrics, AtBest: r.Verdict.AtBest,
	}
	for _, m := range Metrics() {
		row.Values = append(row.Values, r.Stats.Value(m))
	}
	return row
}

// Summary is the score of a set of runs: the spec's "N/68 metrics at their
// best tier" for the 17 standard scenarios.
type Summary struct {
	Runs   int `json:"runs"`
	Passed int `json:"passed"`
	// AtBest counts metrics at their best tier in correct runs; MaxScore is
	// four per run that has thresholds.
	AtBest   int `json:"at_best"`
	MaxScore int `json:"max_score"`
}

// Summarize scores a set of runs.
func Summarize(results []*Result) Summary {
	var s Summary
	for _, r := range results {
		s.Runs++
		if r.Verdict.Correct {
			s.Passed++
		}
		s.AtBest += r.Verdict.AtBest
		if r.Scenario.Thresholds != nil {
			s.MaxScore += len(Metrics())
		}
	}
	return s
}

// String is the score line of a report.
func (s Summary) String() string {
	return fmt.Sprintf("%d/%d metrics at their best tier; %d/%d runs correct", s.AtBest, s.MaxScore, s.Passed, s.Runs)
}

// formatMetric prints a metric's value in its natural unit.
func formatMetric(m Metric, v float64) string {
	if m == MetricMedianLatency {
		return fmtSeconds(v)
	}
	return fmt.Sprintf("%.0f", v)
}

// WriteText writes the per-run table: each metric's value and tier (a star
// marks a metric of a correct run at the best tier that exists),
// correctness, and the reasons of every failed run, then the score.
func WriteText(w io.Writer, results []*Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "SCENARIO\tRESULT")
	for _, m := range Metrics() {
		fmt.Fprintf(tw, "\t%s", strings.ToUpper(string(m)))
	}
	fmt.Fprintln(tw, "\tBEST")
	for _, r := range results {
		row := summaryRow(r)
		verdict := "pass"
		if !row.Correct {
			verdict = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s", row.Name, verdict)
		for i, m := range Metrics() {
			cell := formatMetric(m, row.Values[i])
			if i < len(row.Metrics) {
				ms := row.Metrics[i]
				cell += " " + ms.Tier.String()
				if ms.AtBest {
					cell += "*"
				}
			}
			fmt.Fprintf(tw, "\t%s", cell)
		}
		switch {
		case len(row.Metrics) == 0:
			fmt.Fprintln(tw, "\t-")
		case !row.Correct:
			fmt.Fprintf(tw, "\t0/%d (not scored)\n", len(row.Metrics))
		default:
			fmt.Fprintf(tw, "\t%d/%d\n", row.AtBest, len(row.Metrics))
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	for _, r := range results {
		if !r.Verdict.Correct {
			fmt.Fprintf(w, "%s failed correctness (seed %d):\n", r.Scenario.Name, r.Seed)
			for _, why := range r.Verdict.Reasons {
				fmt.Fprintf(w, "  - %s\n", why)
			}
		}
	}
	fmt.Fprintf(w, "* = at the best tier that exists for that metric (correct runs only)\nscore: %s\n", Summarize(results))
	return nil
}

// WriteDetails writes everything counted in one run, in the spirit of the
// original simulator's closing report.
func WriteDetails(w io.Writer, r *Result) error {
	st := &r.Stats
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(k string, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, args...))
	}
	line("scenario", "%s (seed %d, %s)", r.Scenario.Name, r.Seed, r.Elapsed.Round(1e6))
	line("leaders", "%s (%d changes)", strings.Join(st.Leaders, " "), st.LeaderChanges)
	line("replicas killed / died", "%d / %d", st.Killed, st.Died)
	line("replica-to-replica messages", "%d (dropped %d, blocked by partitions %d, undeliverable %d)", st.TotalMsgs, st.Dropped, st.Blocked, st.Undeliverable)
	line("requests generated get / put", "%d / %d (gets that could not be generated: %d)", st.GetsGenerated, st.PutsGenerated, st.GetGenFailures)
	line("requests sent get / put", "%d / %d (with retries; %d could not be sent)", st.GetsSent, st.PutsSent, st.ClientUnsent)
	line("ok get / put", "%d / %d", st.OKGets, st.OKPuts)
	line("redirects", "%d", st.Redirects)
	line("fail replies get / put", "%d / %d", st.FailedGets, st.FailedPuts)
	line("unanswered get / put", "%d / %d", st.UnansweredGets, st.UnansweredPuts)
	line("duplicates", "%d", st.Duplicates)
	line("incorrect messages / replies / answers", "%d / %d / %d", st.IncorrectMessages, st.IncorrectReplies, st.IncorrectAnswers)
	line("latency median / mean / p90 / p99 / max", "%s / %s / %s / %s / %s over %d replies",
		fmtSeconds(st.Latency.Median), fmtSeconds(st.Latency.Mean), fmtSeconds(st.Latency.P90), fmtSeconds(st.Latency.P99), fmtSeconds(st.Latency.Max), st.Latency.Count)
	line("simulator forwarding p50 / p99 / max", "%.1fµs / %.1fµs / %.1fµs over %d datagrams",
		r.Forwarding.P50Micros, r.Forwarding.P99Micros, r.Forwarding.MaxMicros, r.Forwarding.Datagrams)
	for _, rep := range r.Replicas {
		if !rep.Hello {
			line("warning", "replica %s never sent hello", rep.ID)
		}
	}
	for _, ev := range r.Events {
		if ev.Kind == EvIncorrect || ev.Kind == EvSkipped || ev.Kind == EvDied || ev.Kind == EvStorm || ev.Kind == EvUnanswered {
			line(string(ev.Kind), "%.3fs %s %s", ev.At.Seconds(), ev.Replica, ev.Detail)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write details: %w", err)
	}
	return nil
}
