package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftkv/raftkv/client"
)

// TestBenchJSON runs a very short bench against its own in-process
// cluster and checks that the report is sane. It asserts nothing about
// speed.
func TestBenchJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	page := filepath.Join(t.TempDir(), "bench.html")
	code, out, errOut := runCmd(t, "bench", "--duration", "1s", "--warmup", "200ms", "--clients", "4",
		"--keys", "50", "--mix", "0.5", "-o", "json", "--html", page)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	var rep benchReport
	mustJSON(t, out, &rep)
	w := rep.Workload
	if w.Cluster != "in-process" || w.Nodes != 3 || w.Clients != 4 || w.Keys != 50 || w.KeySize != 16 ||
		w.ValueSize != 256 || !w.Fsync || w.ReadMode != "linearizable-readindex" || w.ClientMode == "" ||
		len(w.Endpoints) != 3 || w.MixedReadFraction != 0.5 || !slices.Equal(w.Phases, []string{"write", "read", "mixed"}) {
		t.Errorf("workload not stated right: %+v", w)
	}
	if rep.Machine.CPUs < 1 || rep.Machine.GoVersion == "" {
		t.Errorf("machine not stated: %+v", rep.Machine)
	}
	if !rep.OK || len(rep.Failed) > 0 {
		t.Errorf("ok %v, failed %q", rep.OK, rep.Failed)
	}
	if len(rep.Phases) != 3 {
		t.Fatalf("%d phases, want 3: %+v", len(rep.Phases), rep.Phases)
	}
	for _, p := range rep.Phases {
		checkLatency(t, p.Name, p.Latency)
		if p.Ops == 0 || p.OpsPerSec <= 0 || p.Ops != p.Reads+p.Writes || p.Seconds != 1 {
			t.Errorf("%s: ops %d (reads %d, writes %d), %.0f ops/s over %vs", p.Name, p.Ops, p.Reads, p.Writes, p.OpsPerSec, p.Seconds)
		}
		if c := p.CPU; runtime.GOOS == "linux" && (c == nil || c.Bench <= 0 || c.Bench > c.Busy+0.01 || c.Busy > 1) {
			t.Errorf("%s: CPU shares %+v", p.Name, c)
		}
		if len(p.Series) == 0 {
			t.Errorf("%s: no per-second series", p.Name)
		}
		var sum uint64
		for _, s := range p.Series {
			sum += s.Ops
		}
		if sum != p.Ops {
			t.Errorf("%s: series adds up to %d ops, phase has %d", p.Name, sum, p.Ops)
		}
	}
	if p := rep.Phases[0]; p.Name != "write" || p.Reads != 0 || p.Writes == 0 {
		t.Errorf("write phase: %+v", p)
	}
	if p := rep.Phases[1]; p.Name != "read" || p.Writes != 0 || p.Reads == 0 {
		t.Errorf("read phase: %+v", p)
	}
	if p := rep.Phases[2]; p.Name != "mixed" || p.Reads == 0 || p.Writes == 0 || p.ReadLatency == nil || p.WriteLatency == nil {
		t.Errorf("mixed phase: %+v", p)
	} else {
		checkLatency(t, "mixed reads", *p.ReadLatency)
		checkLatency(t, "mixed writes", *p.WriteLatency)
	}
	if !strings.Contains(errOut, "write (1/3)") || !strings.Contains(errOut, "done") {
		t.Errorf("no progress on stderr:\n%s", errOut)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "<polyline", "latency (ms)", "linearizable-readindex"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	if d := rep.Workload.DataDir; d == "" {
		t.Error("no data dir stated")
	} else if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary data dir %s not removed: %v", d, err)
	}
}

func checkLatency(t *testing.T, name string, l latencyJSON) {
	t.Helper()
	if l.Count == 0 || l.P50Us > l.P90Us || l.P90Us > l.P99Us || l.P99Us > l.P999Us || l.P999Us > l.MaxUs || l.MeanUs > float64(l.MaxUs) {
		t.Errorf("%s: latency not ordered: %+v", name, l)
	}
}

// TestBenchInterrupt checks that an interrupted bench exits 130 and still
// reports what it measured, if it got as far as measuring.
func TestBenchInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(3*time.Second, cancel)
	var out, errb bytes.Buffer
	code := dispatch(ctx, stdio{out: &out, err: &errb}, []string{"bench", "--duration", "1m", "--warmup", "0s",
		"--clients", "2", "--keys", "10", "-o", "json", "-q"})
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d\n%s", code, exitInterrupted, errb.String())
	}
	if out.Len() > 0 {
		var rep benchReport
		mustJSON(t, out.String(), &rep)
		if rep.OK || len(rep.Phases) != 1 || !rep.Phases[0].Interrupted {
			t.Errorf("interrupted report: ok %v, failed %q, phases %+v", rep.OK, rep.Failed, rep.Phases)
		}
	}
}

func TestBenchUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"--help"}, exitOK, "--lease-reads"},
		{[]string{"extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"--clients", "0"}, exitUsage, "--clients"},
		{[]string{"--duration", "0s"}, exitUsage, "--duration"},
		{[]string{"--mix", "1.5"}, exitUsage, "--mix"},
		{[]string{"--phases", "mixed"}, exitUsage, "needs --mix"},
		{[]string{"--phases", "scan"}, exitUsage, `unknown phase "scan"`},
		{[]string{"--keys", "100000", "--key-size", "8"}, exitUsage, "at least 11"},
		{[]string{"--lease-reads", "--stale"}, exitUsage, "pick one"},
		{[]string{"--endpoints", "http://127.0.0.1:1", "--lease-reads"}, exitUsage, "in-process"},
		{[]string{"--endpoints", "ftp://x"}, exitUsage, "ftp://x"},
		{[]string{"-o", "xml"}, exitUsage, "-o must be text or json"},
		{[]string{"--max-errors", "2"}, exitUsage, "--max-errors"},
	} {
		code, out, errOut := runCmd(t, append([]string{"bench"}, tt.args...)...)
		if code != tt.code || !strings.Contains(out+errOut, tt.err) {
			t.Errorf("raftkv bench %q: exit %d, output %q; want exit %d mentioning %q", tt.args, code, out+errOut, tt.code, tt.err)
		}
	}
}

func TestBenchUnreachable(t *testing.T) {
	code, _, errOut := runCmd(t, "bench", "--endpoints", deadEndpoint(t), "--start-timeout", "300ms", "-q")
	if code != exitUnavailable || !strings.Contains(errOut, "did not accept a write") || !strings.Contains(errOut, "raftkv status") {
		t.Errorf("exit %d, stderr %q; want exit %d saying the cluster did not answer", code, errOut, exitUnavailable)
	}
}

func TestBenchHistogram(t *testing.T) {
	// Every bucket's range follows the previous one's, and indexes round-trip.
	prev := uint64(0)
	for i := 1; i < histBuckets; i++ {
		lo := histUpper(i-1) + 1
		if histIndex(lo) != i || histIndex(histUpper(i)) != i || histUpper(i) < lo {
			t.Fatalf("bucket %d: [%d, %d] does not follow %d", i, lo, histUpper(i), prev)
		}
		if w := histUpper(i) - lo + 1; lo >= 2*histSub && float64(w)/float64(lo) > 1.0/histSub+1e-9 {
			t.Fatalf("bucket %d: [%d, %d] wider than 1/%d", i, lo, histUpper(i), histSub)
		}
		prev = histUpper(i)
	}
	if histUpper(histBuckets-1) != histMax {
		t.Fatalf("last bucket ends at %d, not %d", histUpper(histBuckets-1), histMax)
	}

	// Quantiles against sorted data.
	h := newLatencyHist()
	rng := rand.New(rand.NewPCG(1, 2))
	var vals []uint64
	for i := 0; i < 100000; i++ {
		v := uint64(rng.ExpFloat64() * 2000) // mean 2 ms
		vals = append(vals, v)
		h.record(v)
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		exact := vals[max(int(q*float64(len(vals)))-1, 0)]
		got := h.quantile(q)
		if got < exact || float64(got-exact) > float64(exact)/histSub+1 {
			t.Errorf("q%v: %d, exact %d", q, got, exact)
		}
	}
	s := h.summary()
	if s.Count != uint64(len(vals)) || s.MaxUs != vals[len(vals)-1] || s.P50Us > s.P99Us || s.P99Us > s.P999Us {
		t.Errorf("summary %+v", s)
	}
	// Small values are exact; huge ones clamp.
	h = newLatencyHist()
	for _, v := range []uint64{3, 3, 7, 1 << 60} {
		h.record(v)
	}
	if h.quantile(0.5) != 3 || h.quantile(0.75) != 7 || h.quantile(1) != histMax {
		t.Errorf("p50 %d p75 %d max %d", h.quantile(0.5), h.quantile(0.75), h.quantile(1))
	}
	if (&latencyHist{}).quantile(0.5) != 0 {
		t.Error("empty histogram has a median")
	}
}

func TestBenchErrorKind(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int
	}{
		{&client.Error{Op: "put", Cause: context.DeadlineExceeded}, errTimeout},
		{&client.Error{Op: "put", Err: client.ErrUnavailable, Indefinite: true}, errUnavailable},
		{&client.Error{Op: "get", Err: client.ErrNotFound}, errNotFound},
		{&client.Error{Op: "put", Err: client.ErrSessionLost}, errSessionLost},
		{&client.Error{Op: "put", Err: client.ErrRejected}, errRejected},
		{fmt.Errorf("boom"), errOther},
	} {
		if got := errorKind(tt.err); got != tt.want {
			t.Errorf("errorKind(%v) = %s, want %s", tt.err, errKindName(got), errKindName(tt.want))
		}
	}
}

func TestBenchNiceCeil(t *testing.T) {
	for in, want := range map[float64]float64{0: 1, 0.3: 0.5, 1: 1, 7: 10, 12: 20, 4100: 5000} {
		if got := niceCeil(in); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", in, got, want)
		}
	}
}

// TestBenchErrorBudget runs against an in-memory cluster that rejects a
// third of the reads: the errors are counted by kind and the run exits 1.
func TestBenchErrorBudget(t *testing.T) {
	c, eps := testCluster(t)
	var reads atomic.Int64
	for i := range 3 {
		c.SetIntercept(i, func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/v1/kv/") || reads.Add(1)%3 != 0 {
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintln(w, `{"error":"injected","code":"bad_request"}`)
			return true
		})
	}
	code, out, errOut := runCmd(t, "bench", "--endpoints", eps, "--duration", "300ms", "--warmup", "0s",
		"--clients", "2", "--keys", "10", "--max-errors", "0.1", "-o", "json", "-q")
	if code != exitFailed {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitFailed, out, errOut)
	}
	var rep benchReport
	mustJSON(t, out, &rep)
	if rep.OK || len(rep.Failed) != 1 || !strings.Contains(rep.Failed[0], "phase read") {
		t.Errorf("ok %v, failed %q; want the read phase to fail", rep.OK, rep.Failed)
	}
	if rep.Workload.Cluster != "external" || rep.Workload.Nodes != 3 {
		t.Errorf("workload %+v", rep.Workload)
	}
	if len(rep.Phases) != 2 || rep.Phases[0].Errors != 0 {
		t.Fatalf("phases %+v", rep.Phases)
	}
	rd := rep.Phases[1]
	if rd.Errors == 0 || rd.ErrorRate < 0.2 || len(rd.ErrorsByKind) != 1 || rd.ErrorsByKind[0].Kind != "rejected" ||
		rd.ErrorsByKind[0].Count != rd.Errors || !strings.Contains(rd.ErrorsByKind[0].Example, "injected") {
		t.Errorf("read phase errors: %d (rate %v), by kind %+v", rd.Errors, rd.ErrorRate, rd.ErrorsByKind)
	}
	// The text form names the kind and an example.
	_, txt, _ := runCmd(t, "bench", "--endpoints", eps, "--phases", "read", "--duration", "200ms", "--warmup", "0s",
		"--clients", "1", "--keys", "10", "--max-errors", "1", "-q")
	if !strings.Contains(txt, "rejected") || !strings.Contains(txt, "injected") {
		t.Errorf("text report does not show the errors:\n%s", txt)
	}
}
