package coursesim

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"
)

//go:embed timeline.html.tmpl
var timelineTemplate string

// pageTemplate is parsed once per call: templates are cheap and this keeps
// the package free of global state.
func pageTemplate() (*template.Template, error) {
	return template.New("timeline").Funcs(template.FuncMap{
		"ms": func(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) },
	}).Parse(timelineTemplate)
}

// WriteHTML writes a self-contained HTML page for one run: the verdict and
// metrics, and a timeline of leaders (and terms), partitions, kills, drops
// and latency percentiles per second, drawn as inline SVG. The page loads
// nothing from anywhere.
func WriteHTML(w io.Writer, res *Result) error {
	t, err := pageTemplate()
	if err != nil {
		return fmt.Errorf("parse timeline template: %w", err)
	}
	if err := t.ExecuteTemplate(w, "page", buildPage(res)); err != nil {
		return fmt.Errorf("render timeline of %s: %w", res.Scenario.Name, err)
	}
	return nil
}

// WriteHTMLIndex writes a page linking to each run's timeline, with the
// summary table; hrefs are the runs' page file names, in order.
func WriteHTMLIndex(w io.Writer, results []*Result, hrefs []string) error {
	t, err := pageTemplate()
	if err != nil {
		return fmt.Errorf("parse timeline template: %w", err)
	}
	var rows []indexRow
	for i, r := range results {
		rows = append(rows, indexRow{Href: hrefs[i], Summary: summaryRow(r)})
	}
	sum := Summarize(results)
	if err := t.ExecuteTemplate(w, "index", indexPage{Rows: rows, Score: sum}); err != nil {
		return fmt.Errorf("render index: %w", err)
	}
	return nil
}

type indexRow struct {
	Href    string
	Summary SummaryRow
}

type indexPage struct {
	Rows  []indexRow
	Score Summary
}

// Geometry of the charts, in SVG user units.
const (
	plotLeft  = 70.0
	plotWidth = 900.0
	rowHeight = 20.0
	chartH    = 160.0
)

type svgRect struct {
	X, Y, W, H float64
	Class      string
	Title      string
}

type svgText struct {
	X, Y   float64
	Class  string
	Anchor string
	Text   string
}

type svgLine struct {
	X1, Y1, X2, Y2 float64
	Class          string
}

type svgPolyline struct {
	Points string
	Class  string
}

type svgChart struct {
	Width, Height float64
	Rects         []svgRect
	Lines         []svgLine
	Texts         []svgText
	Polylines     []svgPolyline
}

type kv struct{ K, V string }

type page struct {
	Res      *Result
	Title    string
	Summary  SummaryRow
	Facts    []kv
	Stats    []kv
	Timeline svgChart
	Latency  svgChart
	Traffic  svgChart
	Events   []Event
	Terms    bool
}

func buildPage(res *Result) page {
	sc := &res.Scenario
	st := &res.Stats
	p := page{
		Res:     res,
		Title:   "raftkv classroom simulator: " + sc.Name,
		Summary: summaryRow(res),
		Events:  res.Events,
	}
	p.Facts = []kv{
		{"seed", fmt.Sprint(res.Seed)},
		{"replicas", fmt.Sprint(sc.Replicas)},
		{"requests", fmt.Sprint(sc.Requests)},
		{"mix (gets)", fmt.Sprint(sc.Mix)},
		{"drops", fmt.Sprint(sc.Drops)},
		{"start wait / lifetime / end wait", fmt.Sprintf("%gs / %gs / %gs", sc.StartWait, sc.Lifetime, sc.EndWait)},
		{"elapsed", res.Elapsed.Round(time.Millisecond).String()},
	}
	for _, ev := range sc.Events {
		p.Facts = append(p.Facts, kv{"event", fmt.Sprintf("%s at %gs", ev.Type, ev.Time)})
	}
	p.Stats = []kv{
		{"total_msgs (replica to replica)", fmt.Sprint(st.TotalMsgs)},
		{"dropped / blocked by partition / undeliverable", fmt.Sprintf("%d / %d / %d", st.Dropped, st.Blocked, st.Undeliverable)},
		{"gets / puts generated", fmt.Sprintf("%d / %d", st.GetsGenerated, st.PutsGenerated)},
		{"gets that could not be generated", fmt.Sprint(st.GetGenFailures)},
		{"gets / puts sent (with retries)", fmt.Sprintf("%d / %d", st.GetsSent, st.PutsSent)},
		{"ok gets / puts", fmt.Sprintf("%d / %d", st.OKGets, st.OKPuts)},
		{"redirects", fmt.Sprint(st.Redirects)},
		{"fail replies get / put", fmt.Sprintf("%d / %d", st.FailedGets, st.FailedPuts)},
		{"unanswered get / put", fmt.Sprintf("%d / %d", st.UnansweredGets, st.UnansweredPuts)},
		{"duplicates", fmt.Sprint(st.Duplicates)},
		{"incorrect messages / replies / answers", fmt.Sprintf("%d / %d / %d", st.IncorrectMessages, st.IncorrectReplies, st.IncorrectAnswers)},
		{"killed / died", fmt.Sprintf("%d / %d", st.Killed, st.Died)},
		{"leader changes", fmt.Sprint(st.LeaderChanges)},
		{"latency median / mean / p90 / p99 / max", fmt.Sprintf("%s / %s / %s / %s / %s",
			fmtSeconds(st.Latency.Median), fmtSeconds(st.Latency.Mean), fmtSeconds(st.Latency.P90), fmtSeconds(st.Latency.P99), fmtSeconds(st.Latency.Max))},
		{"simulator forwarding p50 / p99 / max", fmt.Sprintf("%.1fµs / %.1fµs / %.1fµs over %d datagrams",
			res.Forwarding.P50Micros, res.Forwarding.P99Micros, res.Forwarding.MaxMicros, res.Forwarding.Datagrams)},
	}
	total := res.Elapsed
	if d := sc.Duration(); d > total {
		total = d
	}
	p.Timeline, p.Terms = timelineChart(res, total)
	p.Latency = latencyChart(res, total)
	p.Traffic = trafficChart(res, total)
	return p
}

func xOf(t, total time.Duration) float64 {
	if total <= 0 {
		return plotLeft
	}
	return plotLeft + plotWidth*float64(t)/float64(total)
}

// axis adds a time axis with a tick every second, labelled every 5 s (every
// second on runs shorter than 15 s).
func axis(c *svgChart, total time.Duration, y float64) {
	c.Lines = append(c.Lines, svgLine{plotLeft, y, plotLeft + plotWidth, y, "axis"})
	every := 5
	if total < 15*time.Second {
		every = 1
	}
	for s := 0; time.Duration(s)*time.Second <= total; s++ {
		x := xOf(time.Duration(s)*time.Second, total)
		h := 3.0
		if s%every == 0 {
			h = 6
			c.Texts = append(c.Texts, svgText{X: x, Y: y + 18, Anchor: "middle", Class: "tick", Text: fmt.Sprintf("%ds", s)})
		}
		c.Lines = append(c.Lines, svgLine{x, y, x, y + h, "axis"})
	}
}

// phases shades the start and end waits behind a chart.
func phases(c *svgChart, sc *Scenario, total time.Duration, top, height float64) {
	sw, ew := seconds(sc.StartWait), seconds(sc.StartWait+sc.Lifetime)
	c.Rects = append(c.Rects,
		svgRect{X: xOf(0, total), Y: top, W: xOf(sw, total) - xOf(0, total), H: height, Class: "wait", Title: "start wait"},
		svgRect{X: xOf(ew, total), Y: top, W: xOf(total, total) - xOf(ew, total), H: height, Class: "wait", Title: "end wait"})
}

func timelineChart(res *Result, total time.Duration) (svgChart, bool) {
	sc := &res.Scenario
	n := sc.Replicas
	top := 10.0
	c := svgChart{Width: plotLeft + plotWidth + 20, Height: top + rowHeight*float64(n) + 40}
	phases(&c, sc, total, top, rowHeight*float64(n))
	rowY := func(i int) float64 { return top + rowHeight*float64(i) }
	for i := range n {
		c.Rects = append(c.Rects, svgRect{X: plotLeft, Y: rowY(i) + 2, W: plotWidth, H: rowHeight - 4, Class: "lane"})
		c.Texts = append(c.Texts, svgText{X: plotLeft - 8, Y: rowY(i) + rowHeight/2 + 4, Anchor: "end", Class: "label", Text: formatID(uint16(i))})
	}
	index := func(id string) int {
		for i := range n {
			if formatID(uint16(i)) == id {
				return i
			}
		}
		return -1
	}
	// Leader spans: from each change to the next.
	type span struct {
		from   time.Duration
		leader int
		term   string
	}
	var spans []span
	var partStart time.Duration
	var minority []string
	terms := false
	closePartition := func(end time.Duration) {
		for _, id := range minority {
			if i := index(id); i >= 0 {
				c.Rects = append(c.Rects, svgRect{X: xOf(partStart, total), Y: rowY(i) + 2, W: xOf(end, total) - xOf(partStart, total), H: rowHeight - 4,
					Class: "cut", Title: "cut off from the majority"})
			}
		}
		minority = nil
	}
	for _, ev := range res.Events {
		switch ev.Kind {
		case EvLeader:
			spans = append(spans, span{ev.At, index(ev.Replica), ev.Term})
			terms = terms || ev.Term != ""
		case EvTerm:
			spans = append(spans, span{ev.At, index(ev.Replica), ev.Term})
			terms = true
		case EvPartition:
			if minority != nil {
				closePartition(ev.At)
			}
			partStart = ev.At
			if len(ev.Groups) == 2 {
				minority = ev.Groups[1]
			}
			c.Lines = append(c.Lines, svgLine{xOf(ev.At, total), top, xOf(ev.At, total), rowY(n), "part"})
		case EvHeal:
			closePartition(ev.At)
			c.Lines = append(c.Lines, svgLine{xOf(ev.At, total), top, xOf(ev.At, total), rowY(n), "part"})
		case EvKill, EvDied:
			if i := index(ev.Replica); i >= 0 {
				cls := "dead"
				if ev.Kind == EvDied {
					cls = "died"
				}
				c.Rects = append(c.Rects, svgRect{X: xOf(ev.At, total), Y: rowY(i) + 6, W: xOf(total, total) - xOf(ev.At, total), H: rowHeight - 12,
					Class: cls, Title: fmt.Sprintf("%s %s at %.3fs", ev.Replica, ev.Kind, ev.At.Seconds())})
				c.Texts = append(c.Texts, svgText{X: xOf(ev.At, total), Y: rowY(i) + rowHeight/2 + 5, Anchor: "middle", Class: cls + "-mark", Text: "✕"})
			}
		case EvStorm:
			c.Lines = append(c.Lines, svgLine{xOf(ev.At, total), top, xOf(ev.At, total), rowY(n), "storm"})
		}
	}
	if minority != nil {
		closePartition(total)
	}
	for k, s := range spans {
		if s.leader < 0 {
			continue
		}
		end := total
		if k+1 < len(spans) {
			end = spans[k+1].from
		}
		title := fmt.Sprintf("leader %s from %.3fs to %.3fs", formatID(uint16(s.leader)), s.from.Seconds(), end.Seconds())
		if s.term != "" {
			title += ", term " + s.term
		}
		x := xOf(s.from, total)
		w := math.Max(xOf(end, total)-x, 1)
		c.Rects = append(c.Rects, svgRect{X: x, Y: rowY(s.leader) + 4, W: w, H: rowHeight - 8, Class: "leader", Title: title})
		if s.term != "" && w > 14 {
			c.Texts = append(c.Texts, svgText{X: x + 2, Y: rowY(s.leader) + rowHeight/2 + 4, Class: "term", Text: "t" + s.term})
		}
	}
	axis(&c, total, rowY(n)+4)
	return c, terms
}

// Latency chart: log scale from 10 µs to 10 s.
const (
	latMin = 1e-5
	latMax = 10.0
)

func latencyY(v float64, top, h float64) float64 {
	v = math.Min(math.Max(v, latMin), latMax)
	return top + h - h*(math.Log10(v)-math.Log10(latMin))/(math.Log10(latMax)-math.Log10(latMin))
}

func latencyChart(res *Result, total time.Duration) svgChart {
	top := 10.0
	c := svgChart{Width: plotLeft + plotWidth + 20, Height: top + chartH + 40}
	phases(&c, &res.Scenario, total, top, chartH)
	for _, v := range []float64{1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10} {
		y := latencyY(v, top, chartH)
		c.Lines = append(c.Lines, svgLine{plotLeft, y, plotLeft + plotWidth, y, "grid"})
		c.Texts = append(c.Texts, svgText{X: plotLeft - 6, Y: y + 4, Anchor: "end", Class: "tick", Text: fmtSeconds(v)})
	}
	if th := res.Scenario.Thresholds; th != nil {
		for i, v := range th.MedianLatency[:2] {
			if v <= 0 {
				continue
			}
			y := latencyY(v, top, chartH)
			c.Lines = append(c.Lines, svgLine{plotLeft, y, plotLeft + plotWidth, y, fmt.Sprintf("thr thr%d", i)})
			c.Texts = append(c.Texts, svgText{X: plotLeft + plotWidth + 2, Y: y + 4, Class: "tick", Text: fmt.Sprintf("t%d", i)})
		}
	}
	var p50, p90, p99 []string
	for _, s := range res.Seconds {
		if s.Replies == 0 {
			continue
		}
		x := fmt.Sprintf("%.1f", xOf(time.Duration(s.Second)*time.Second+time.Second/2, total))
		p50 = append(p50, x+","+fmt.Sprintf("%.1f", latencyY(s.P50, top, chartH)))
		p90 = append(p90, x+","+fmt.Sprintf("%.1f", latencyY(s.P90, top, chartH)))
		p99 = append(p99, x+","+fmt.Sprintf("%.1f", latencyY(s.P99, top, chartH)))
	}
	c.Polylines = []svgPolyline{
		{strings.Join(p99, " "), "p99"},
		{strings.Join(p90, " "), "p90"},
		{strings.Join(p50, " "), "p50"},
	}
	axis(&c, total, top+chartH)
	return c
}

func trafficChart(res *Result, total time.Duration) svgChart {
	top := 10.0
	c := svgChart{Width: plotLeft + plotWidth + 20, Height: top + chartH + 40}
	phases(&c, &res.Scenario, total, top, chartH)
	peak := 1
	for _, s := range res.Seconds {
		peak = max(peak, s.Msgs, s.Requests)
	}
	scale := chartH / float64(peak)
	c.Texts = append(c.Texts,
		svgText{X: plotLeft - 6, Y: top + 4, Anchor: "end", Class: "tick", Text: fmt.Sprint(peak)},
		svgText{X: plotLeft - 6, Y: top + chartH, Anchor: "end", Class: "tick", Text: "0"})
	slot := xOf(time.Second, total) - xOf(0, total)
	var reqs []string
	for _, s := range res.Seconds {
		x := xOf(time.Duration(s.Second)*time.Second, total)
		bar := func(v int, cls, what string, off float64) {
			if v == 0 {
				return
			}
			h := float64(v) * scale
			c.Rects = append(c.Rects, svgRect{X: x + off, Y: top + chartH - h, W: slot * 0.45, H: h, Class: cls,
				Title: fmt.Sprintf("second %d: %d %s", s.Second, v, what)})
		}
		bar(s.Msgs, "msgs", "replica-to-replica messages", slot*0.05)
		bar(s.Dropped+s.Blocked, "lost", "dropped or blocked by a partition", slot*0.5)
		reqs = append(reqs, fmt.Sprintf("%.1f,%.1f", x+slot/2, top+chartH-float64(s.Requests)*scale))
	}
	c.Polylines = []svgPolyline{{strings.Join(reqs, " "), "reqs"}}
	axis(&c, total, top+chartH)
	return c
}

// fmtSeconds prints a duration in seconds with a readable unit.
func fmtSeconds(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 1e-3:
		return fmt.Sprintf("%.0fµs", v*1e6)
	case v < 1:
		return fmt.Sprintf("%.3gms", v*1e3)
	}
	return fmt.Sprintf("%.3gs", v)
}
