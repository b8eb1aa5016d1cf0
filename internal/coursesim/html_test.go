package coursesim

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sampleResult is a finished run with every kind of event, built through
// the engine so that it looks like a real one.
func sampleResult(t *testing.T) *Result {
	t.Helper()
	sc := standardLike()
	sc.Name = `odd <name> & "quotes"`
	sc.Requests = 20
	sc.Lifetime = 3
	sc.StartWait = 1
	sc.EndWait = 1
	e := testEngine(t, *sc)
	s := time.Second
	feed(e, 1, s, `{"src":"0001","dst":"FFFF","leader":"0001","type":"append","term":2}`)
	feed(e, 1, s+s/2, `{"src":"0001","dst":"FFFF","leader":"0001","type":"append","term":3}`)
	e.event(ScheduledEvent{Type: PartHard, Time: 1}, 2*s, &step{})
	e.event(ScheduledEvent{Type: PartEnd, Time: 2}, 3*s, &step{})
	e.event(ScheduledEvent{Type: KillNonLeader, Time: 2}, 3*s, &step{})
	e.exited(4, "exit status 1", 3*s+s/2, &step{})
	feed(e, 0, 3*s, `not json <script>`)
	out := &step{}
	e.request(&action{kind: actPut, client: 0, seed: 1}, 2*s, out)
	r := onlyRequest(t, out)
	replyTo(e, r, r.to, 2*s+300*time.Microsecond, "ok", "0001", "")
	st := e.finish(5 * s)
	return &Result{Scenario: e.sc, Seed: 7, Stats: st, Verdict: Judge(&e.sc, &st), Events: e.events, Elapsed: 5 * s,
		Seconds: []SecondStats{{Second: 2, Msgs: 8, Dropped: 1, Requests: 1, Replies: 1, P50: 0.0003, P90: 0.0003, P99: 0.0003}}}
}

func TestHTMLIsSelfContained(t *testing.T) {
	res := sampleResult(t)
	var b bytes.Buffer
	if err := WriteHTML(&b, res); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, banned := range []string{"http:", "https:", "src=", "<script", "<link", "url(", "@import", `odd <name>`} {
		if strings.Contains(page, banned) {
			t.Errorf("page contains %q: it must be self-contained and escaped", banned)
		}
	}
	for _, want := range []string{"odd &lt;name&gt;", "<svg", `class="leader"`, `class="cut"`, `class="dead"`, `class="died"`, "t3", "p50", "FAIL", "died on their own"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Every shape lies inside the plot.
	rects := regexp.MustCompile(`<rect x="(-?[0-9.]+)" y="-?[0-9.]+" width="(-?[0-9.]+)"`).FindAllStringSubmatch(page, -1)
	if len(rects) == 0 {
		t.Fatal("no rect in the page")
	}
	for _, m := range rects {
		x, _ := strconv.ParseFloat(m[1], 64)
		w, _ := strconv.ParseFloat(m[2], 64)
		if x < plotLeft || w < 0 || x+w > plotLeft+plotWidth+0.1 {
			t.Errorf("rect outside the plot: %s", m[0])
		}
	}
	var idx bytes.Buffer
	if err := WriteHTMLIndex(&idx, []*Result{res}, []string{"a.html"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(idx.String(), `href="a.html"`) || strings.Contains(idx.String(), "http") {
		t.Errorf("index page: %s", idx.String())
	}
}

func TestWriteTextReport(t *testing.T) {
	res := sampleResult(t)
	good := sampleResult(t)
	good.Scenario.Name = "good"
	good.Stats = goodStats(&good.Scenario)
	good.Stats.Latency.Median = 0.0002
	good.Verdict = Judge(&good.Scenario, &good.Stats)
	var b bytes.Buffer
	if err := WriteText(&b, []*Result{good, res}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"SCENARIO", "MEDIAN_LATENCY", "good", "pass", "FAIL", "200µs bonus*", "not scored",
		"failed correctness (seed 7)", "score: 4/8 metrics at their best tier; 1/2 runs correct"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	if err := WriteDetails(&b, res); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "incorrect") || !strings.Contains(b.String(), "0001") {
		t.Errorf("details:\n%s", b.String())
	}
}
