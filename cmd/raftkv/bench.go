package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"math"
	"math/bits"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/raftkv/raftkv/client"
	"github.com/raftkv/raftkv/internal/server"
)

const benchSynopsis = "raftkv bench [flags]"

const benchAbout = `Measures throughput and latency. By default it starts its own cluster in
this process (--nodes members on free 127.0.0.1 ports, data in a temporary
directory on disk, fsync on, removed afterwards); --endpoints targets a
running cluster instead. The in-process cluster shares the CPUs with the
bench's own clients; a separate cluster on the same machine does too.

--clients workers each issue requests back to back for --duration per
phase, each through its own client.Client (its own exactly-once session;
--shared-client makes them share one). Phases, in order:
  write   Put of a random key (of --keys) with a --value-size value
  read    Get of a random key: linearizable by ReadIndex, or by the leader's
          lease with --lease-reads, or --stale (local state, no check)
  mixed   --mix of the operations are reads, the rest writes (only with --mix)
Each phase first runs --warmup unrecorded. Before the first phase that
reads, every key not yet written is written once, so reads find values.

It prints, per phase, ops/s (operations completed within the phase's
duration) and latency p50, p99, p99.9 and max from a log-linear histogram
(1 µs resolution below 256 µs, within 0.8% above), errors by kind, and the
workload and machine (CPUs, load average, a measured fsync and loopback
round trip). Progress goes to stderr: a live line on a terminal, a line a
second otherwise.

Exit status: 0 success; 1 a phase's error rate exceeded --max-errors;
2 bad usage; 3 the cluster could not be started or reached; 130
interrupted (the phases run so far are still reported).`

// Bench defaults.
const (
	benchKeyPrefix    = "bench/"
	benchReadyKey     = "bench/ready"
	benchStartTimeout = 30 * time.Second
	// benchProbeSamples is how many fsyncs and loopback round trips the
	// machine probes time.
	benchProbeSamples = 200
)

// benchFlags are bench's parsed flags.
type benchFlags struct {
	endpoints    string
	nodes        int
	clients      int
	sharedClient bool
	keys         int
	keySize      int
	valueSize    int
	duration     time.Duration
	warmup       time.Duration
	phases       string
	mix          float64
	leaseReads   bool
	stale        bool
	maxErrors    float64
	timeout      time.Duration
	startTimeout time.Duration
	output       string
	htmlFile     string
	dataDir      string
	cpuProfile   string
	logLevel     string
	seed         uint64
	quiet        bool
}

func runBench(ctx context.Context, std stdio, args []string) int {
	fs := newFlagSet(std, "bench", benchSynopsis, benchAbout)
	f := &benchFlags{}
	fs.StringVar(&f.endpoints, "endpoints", "", "comma-separated client `URLs` of a running cluster (default: start one in this process)")
	fs.IntVar(&f.nodes, "nodes", 3, "members of the in-process cluster")
	fs.IntVar(&f.clients, "clients", 64, "concurrent workers, each issuing requests back to back")
	fs.BoolVar(&f.sharedClient, "shared-client", false, "share one client.Client among the workers instead of one each (its session allows 64 writes in flight)")
	fs.IntVar(&f.keys, "keys", 10000, "size of the key space")
	fs.IntVar(&f.keySize, "key-size", 16, "key length in `bytes` (\"bench/\" and a zero-padded number)")
	fs.IntVar(&f.valueSize, "value-size", 256, "value length in `bytes`")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "measured length of each phase")
	fs.DurationVar(&f.warmup, "warmup", 2*time.Second, "unrecorded run before each phase")
	fs.StringVar(&f.phases, "phases", "", "comma-separated phases to run: write, read, mixed (default write,read, plus mixed with --mix)")
	fs.Float64Var(&f.mix, "mix", 0, "read fraction `F` of the mixed phase (0 < F < 1); setting it adds the phase")
	fs.BoolVar(&f.leaseReads, "lease-reads", false, "start the in-process cluster with lease-based linearizable reads")
	fs.BoolVar(&f.stale, "stale", false, "read with client.Stale(): local state, not linearizable")
	fs.Float64Var(&f.maxErrors, "max-errors", 0.01, "exit 1 if a phase's failed fraction of operations exceeds `F`")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Second, "give up on one operation after `D`, retries included")
	fs.DurationVar(&f.startTimeout, "start-timeout", benchStartTimeout, "wait at most `D` for the cluster to accept a first write")
	fs.StringVar(&f.output, "o", "text", "output `format`: text or json")
	fs.StringVar(&f.htmlFile, "html", "", "also write a self-contained HTML report with latency and throughput over time to `FILE`")
	fs.StringVar(&f.dataDir, "data-dir", "", "keep the in-process cluster's data under `DIR`, a new subdirectory per run (default: a temporary directory, removed after)")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the measured phases to `FILE` (the in-process servers included)")
	fs.StringVar(&f.logLevel, "log-level", "error", "log `level` of the in-process servers")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the workers' key and operation choices")
	fs.BoolVar(&f.quiet, "q", false, "no progress on stderr")
	rest, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(std.err, "raftkv bench: "+format+"\n", a...)
		return exitUsage
	}
	if len(rest) > 0 {
		return usageErr("unexpected argument %q", rest[0])
	}
	phases, err := f.validate()
	if err != nil {
		return usageErr("%v", err)
	}
	logger, err := newLogger(std, f.logLevel)
	if err != nil {
		return usageErr("%v", err)
	}
	b := &bench{std: std, f: f, phases: phases, log: logger}
	return b.run(ctx)
}

// validate checks the flags and returns the phases to run.
func (f *benchFlags) validate() ([]phaseSpec, error) {
	switch {
	case f.output != "text" && f.output != "json":
		return nil, fmt.Errorf("-o must be text or json, not %q", f.output)
	case f.clients < 1:
		return nil, errors.New("--clients must be at least 1")
	case f.keys < 1:
		return nil, errors.New("--keys must be at least 1")
	case f.valueSize < 0:
		return nil, errors.New("--value-size must not be negative")
	case f.duration <= 0:
		return nil, errors.New("--duration must be positive")
	case f.warmup < 0:
		return nil, errors.New("--warmup must not be negative")
	case f.timeout <= 0 || f.startTimeout <= 0:
		return nil, errors.New("--timeout and --start-timeout must be positive")
	case f.mix < 0 || f.mix >= 1:
		return nil, fmt.Errorf("--mix is the read fraction of the mixed phase, in (0, 1), not %v", f.mix)
	case f.maxErrors < 0 || f.maxErrors > 1:
		return nil, fmt.Errorf("--max-errors is a fraction in [0, 1], not %v", f.maxErrors)
	case f.leaseReads && f.stale:
		return nil, errors.New("--lease-reads and --stale are different read modes: pick one")
	}
	if need := len(benchKeyPrefix) + len(strconv.Itoa(f.keys-1)); f.keySize < need {
		return nil, fmt.Errorf("--key-size %d is too short for %d keys: at least %d", f.keySize, f.keys, need)
	}
	if f.endpoints == "" {
		if f.nodes < 1 || f.nodes > 9 {
			return nil, errors.New("--nodes must be between 1 and 9")
		}
	} else {
		if f.leaseReads {
			return nil, errors.New("--lease-reads configures the in-process cluster; a running cluster's read mode is its servers' setting (drop --endpoints, or --lease-reads)")
		}
		if f.dataDir != "" {
			return nil, errors.New("--data-dir is for the in-process cluster, not with --endpoints")
		}
		if len(f.endpointList()) == 0 {
			return nil, errors.New("--endpoints is empty")
		}
	}
	names := f.phases
	if names == "" {
		names = "write,read"
		if f.mix > 0 {
			names += ",mixed"
		}
	}
	var out []phaseSpec
	for _, n := range strings.Split(names, ",") {
		switch strings.TrimSpace(n) {
		case "write":
			out = append(out, phaseSpec{name: "write", readFrac: 0})
		case "read":
			out = append(out, phaseSpec{name: "read", readFrac: 1})
		case "mixed":
			if f.mix == 0 {
				return nil, errors.New("the mixed phase needs --mix, its read fraction (e.g. --mix 0.5)")
			}
			out = append(out, phaseSpec{name: "mixed", readFrac: f.mix})
		case "":
		default:
			return nil, fmt.Errorf("unknown phase %q in --phases: use write, read or mixed", n)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("--phases names no phase")
	}
	return out, nil
}

func (f *benchFlags) endpointList() []string {
	var eps []string
	for _, ep := range strings.Split(f.endpoints, ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			eps = append(eps, ep)
		}
	}
	return eps
}

// readMode names how the bench's reads are served.
func (f *benchFlags) readMode() string {
	switch {
	case f.stale:
		return "stale"
	case f.leaseReads:
		return "linearizable-lease"
	case f.endpoints != "":
		return "linearizable (servers' setting: ReadIndex unless started with lease reads)"
	}
	return "linearizable-readindex"
}

// phaseSpec is one phase of the workload.
type phaseSpec struct {
	name     string
	readFrac float64
}

// bench is one run of the command.
type bench struct {
	std    stdio
	f      *benchFlags
	phases []phaseSpec
	log    *slog.Logger

	cluster   *benchCluster // nil with --endpoints
	endpoints []string
	workers   []*client.Client // one per worker; all the same with --shared-client
	probe     *client.Client   // readiness and status; not used by the workers
	transport *http.Transport
	// written marks the keys known to exist, so reads can find them.
	written []atomic.Bool
}

func (b *bench) run(ctx context.Context) int {
	rep := b.newReport()
	cleanup, code := b.setup(ctx, rep)
	defer cleanup()
	if code != exitOK {
		return code
	}
	if f := b.f.cpuProfile; f != "" {
		stop, err := startCPUProfile(f)
		if err != nil {
			fmt.Fprintf(b.std.err, "raftkv bench: %v\n", err)
			return exitError
		}
		defer func() {
			if err := stop(); err != nil {
				fmt.Fprintf(b.std.err, "raftkv bench: %v\n", err)
			}
		}()
	}
	interrupted := b.measure(ctx, rep)
	return b.finish(rep, interrupted)
}

// newReport states the workload and the machine.
func (b *bench) newReport() *benchReport {
	f := b.f
	rep := &benchReport{Workload: benchWorkload{
		Cluster: "in-process", Nodes: f.nodes, Clients: f.clients, ClientMode: "one client.Client per worker",
		Keys: f.keys, KeySize: f.keySize, ValueSize: f.valueSize, ReadMode: f.readMode(), Fsync: true,
		DurationSeconds: f.duration.Seconds(), WarmupSeconds: f.warmup.Seconds(), OpTimeout: f.timeout.String(), Seed: f.seed,
	}}
	if f.sharedClient {
		rep.Workload.ClientMode = "one shared client.Client"
	}
	for _, p := range b.phases {
		rep.Workload.Phases = append(rep.Workload.Phases, p.name)
		if p.name == "mixed" {
			rep.Workload.MixedReadFraction = p.readFrac
		}
	}
	rep.Machine = probeMachine()
	rep.Machine.LoadAvgStart = loadAvg()
	return rep
}

// setup starts the in-process cluster (or takes --endpoints), probes the
// machine's limits, makes the clients and waits for the cluster to accept
// a write. cleanup undoes it all, whatever code is.
func (b *bench) setup(ctx context.Context, rep *benchReport) (cleanup func(), code int) {
	f := b.f
	var undo []func()
	cleanup = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	probeDir := os.TempDir()
	if f.endpoints == "" {
		cluster, err := startBenchCluster(f.nodes, f.dataDir, f.leaseReads, b.log)
		if err != nil {
			fmt.Fprintf(b.std.err, "raftkv bench: cannot start the in-process cluster: %v\n", err)
			return cleanup, exitError
		}
		b.cluster = cluster
		undo = append(undo, func() {
			if err := cluster.stop(); err != nil {
				fmt.Fprintf(b.std.err, "raftkv bench: %v\n", err)
			}
		})
		b.endpoints = cluster.endpoints
		rep.Workload.DataDir, probeDir = cluster.dir, cluster.dir
	} else {
		b.endpoints = f.endpointList()
		rep.Workload.Cluster = "external"
		rep.Workload.Nodes = len(b.endpoints)
		rep.Workload.Fsync = true // raftkv servers always fsync before acknowledging
	}
	rep.Workload.Endpoints = b.endpoints
	rep.Machine.FsyncP50Us, rep.Machine.FsyncDir = probeFsync(probeDir, benchProbeSamples), probeDir
	rep.Machine.LoopbackRTTP50Us = probeLoopback(benchProbeSamples)

	if err := b.makeClients(); err != nil {
		fmt.Fprintf(b.std.err, "raftkv bench: %v\n", err)
		return cleanup, exitUsage
	}
	undo = append(undo, b.transport.CloseIdleConnections)
	if err := b.waitReady(ctx); err != nil {
		if ctx.Err() != nil {
			return cleanup, exitInterrupted
		}
		fmt.Fprintf(b.std.err, "raftkv bench: the cluster at %s did not accept a write within %s: %v\n",
			strings.Join(b.endpoints, ","), f.startTimeout, err)
		if f.endpoints != "" {
			fmt.Fprintf(b.std.err, "Is it running? Check with 'raftkv status --endpoints %s', or drop --endpoints to bench an in-process cluster.\n", f.endpoints)
		}
		return cleanup, exitUnavailable
	}
	b.written = make([]atomic.Bool, f.keys)
	return cleanup, exitOK
}

// startCPUProfile profiles the process into path until stop.
func startCPUProfile(path string) (stop func() error, err error) {
	pf, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(pf); err != nil {
		pf.Close()
		return nil, fmt.Errorf("cpu profile %s: %w", path, err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := pf.Close(); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		return nil
	}, nil
}

// measure runs the phases, each after the key load it needs and its
// warmup, and adds their results to rep. It reports whether ctx ended
// the run early.
func (b *bench) measure(ctx context.Context, rep *benchReport) (interrupted bool) {
	f := b.f
	for i, p := range b.phases {
		if p.readFrac > 0 && !b.loaded() {
			ld := b.load(ctx)
			rep.Load = &ld
			if ctx.Err() != nil {
				return true
			}
		}
		if f.warmup > 0 {
			b.runPhase(ctx, p, p.name+" warmup", f.warmup)
			if ctx.Err() != nil {
				return true
			}
		}
		before, cpu0 := b.counters(ctx), sampleCPU()
		st := b.runPhase(ctx, p, fmt.Sprintf("%s (%d/%d)", p.name, i+1, len(b.phases)), f.duration)
		cpu1, after := sampleCPU(), b.counters(ctx)
		res := st.result(p, f.duration)
		res.Raft = diffCounters(before, after, res.Ops, rep.Workload.Nodes)
		res.CPU = cpuBetween(cpu0, cpu1)
		res.Interrupted = ctx.Err() != nil
		rep.Phases = append(rep.Phases, res)
		if ctx.Err() != nil {
			return true
		}
	}
	return false
}

// finish judges the run against --max-errors, writes the report and
// returns the exit code.
func (b *bench) finish(rep *benchReport, interrupted bool) int {
	f := b.f
	rep.Machine.LoadAvgEnd = loadAvg()
	if b.cluster != nil {
		rep.ServerErrors = b.cluster.fatalErrors()
	}
	code := exitOK
	for _, ph := range rep.Phases {
		if ph.ErrorRate > f.maxErrors {
			rep.Failed = append(rep.Failed, fmt.Sprintf("phase %s: %.2f%% of operations failed, more than --max-errors %.2f%%",
				ph.Name, 100*ph.ErrorRate, 100*f.maxErrors))
			code = exitFailed
		}
	}
	if interrupted {
		code = exitInterrupted
		rep.Failed = append(rep.Failed, "interrupted: the report covers the phases run so far")
	}
	rep.OK = code == exitOK
	if f.output == "json" {
		enc := json.NewEncoder(b.std.out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(b.std.err, "raftkv bench: writing output: %v\n", err)
			return exitError
		}
	} else {
		printBenchText(b.std.out, rep)
	}
	if f.htmlFile != "" {
		if err := writeFile(f.htmlFile, func(w io.Writer) error { return writeBenchHTML(w, rep) }); err != nil {
			fmt.Fprintf(b.std.err, "raftkv bench: html report: %v\n", err)
			return exitError
		}
		if f.output == "text" {
			fmt.Fprintf(b.std.out, "\nHTML report: %s\n", f.htmlFile)
		}
	}
	return code
}

// makeClients builds the workers' clients and the probe client. They share
// one HTTP transport, sized so that every worker keeps its connection.
func (b *bench) makeClients() error {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 2*b.f.clients + 16
	tr.MaxIdleConnsPerHost = b.f.clients + 8
	b.transport = tr
	hc := &http.Client{Transport: tr}
	mk := func() (*client.Client, error) {
		c, err := client.New(client.Config{Endpoints: b.endpoints, Timeout: b.f.timeout, HTTPClient: hc,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
		return c, nil
	}
	var err error
	if b.probe, err = mk(); err != nil {
		return err
	}
	b.workers = make([]*client.Client, b.f.clients)
	for i := range b.workers {
		if i > 0 && b.f.sharedClient {
			b.workers[i] = b.workers[0]
			continue
		}
		if b.workers[i], err = mk(); err != nil {
			return err
		}
	}
	return nil
}

// waitReady waits until the cluster accepts a write (a leader is elected
// and reachable), up to --start-timeout.
func (b *bench) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, b.f.startTimeout)
	defer cancel()
	for {
		_, err := b.probe.Put(ctx, benchReadyKey, "1")
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("last attempt: %w", err)
		}
		if errors.Is(err, client.ErrRejected) {
			return err
		}
		if !sleepCtx(ctx, 100*time.Millisecond) {
			return fmt.Errorf("last attempt: %w", err)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// key returns the name of key i: the prefix and i zero-padded to --key-size.
func (b *bench) key(buf []byte, i int) []byte {
	buf = append(buf[:0], benchKeyPrefix...)
	digits := strconv.AppendInt(nil, int64(i), 10)
	for n := b.f.keySize - len(benchKeyPrefix) - len(digits); n > 0; n-- {
		buf = append(buf, '0')
	}
	return append(buf, digits...)
}

func (b *bench) loaded() bool {
	for i := range b.written {
		if !b.written[i].Load() {
			return false
		}
	}
	return true
}

// load writes every key not yet written, so that reads find a value.
func (b *bench) load(ctx context.Context) loadResult {
	var next atomic.Int64
	st := newRunStats(time.Now(), 0)
	stop := startProgress(b.std.err, b.f.quiet, "load", 0, st)
	var wg sync.WaitGroup
	for w := range b.workers {
		wg.Go(func() {
			c := b.workers[w]
			value := randomValue(rand.New(rand.NewPCG(b.f.seed, uint64(w)+1<<32)), b.f.valueSize)
			var kb []byte
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(b.written) {
					return
				}
				if b.written[i].Load() {
					continue
				}
				kb = b.key(kb, i)
				t0 := time.Now()
				_, err := c.Put(ctx, string(kb), value)
				t1 := time.Now()
				if ctx.Err() != nil {
					return
				}
				if err == nil {
					b.written[i].Store(true)
				}
				st.record(opWrite, t0, t1, err)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(st.start)
	stop()
	n := 0
	for i := range b.written {
		if !b.written[i].Load() {
			n++
		}
	}
	return loadResult{Keys: st.ops[opWrite].Load(), Seconds: elapsed.Seconds(), Errors: st.errs.Load(), Missing: n}
}

// runPhase runs p's workload with every worker for d and returns what it
// measured.
func (b *bench) runPhase(ctx context.Context, p phaseSpec, label string, d time.Duration) *runStats {
	start := time.Now()
	st := newRunStats(start, d)
	stopAt := start.Add(d)
	stop := startProgress(b.std.err, b.f.quiet, label, d, st)
	var readOpts []client.ReadOption
	if b.f.stale {
		readOpts = append(readOpts, client.Stale())
	}
	var wg sync.WaitGroup
	for w := range b.workers {
		wg.Go(func() {
			c := b.workers[w]
			rng := rand.New(rand.NewPCG(b.f.seed, uint64(w)))
			value := randomValue(rng, b.f.valueSize)
			var kb []byte
			for ctx.Err() == nil && time.Now().Before(stopAt) {
				i := rng.IntN(b.f.keys)
				kb = b.key(kb, i)
				op := opWrite
				if p.readFrac > 0 && (p.readFrac >= 1 || rng.Float64() < p.readFrac) {
					op = opRead
				}
				t0 := time.Now()
				var err error
				if op == opWrite {
					_, err = c.Put(ctx, string(kb), value)
				} else {
					_, err = c.Get(ctx, string(kb), readOpts...)
				}
				t1 := time.Now()
				if ctx.Err() != nil {
					return // interrupted: the answer says nothing about the cluster
				}
				if op == opWrite && err == nil {
					b.written[i].Store(true)
				}
				st.record(op, t0, t1, err)
			}
		})
	}
	wg.Wait()
	st.end = time.Now()
	stop()
	return st
}

func randomValue(rng *rand.Rand, n int) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	v := make([]byte, n)
	for i := range v {
		v[i] = letters[rng.IntN(len(letters))]
	}
	return string(v)
}

// The operations of the workload.
const (
	opWrite = iota
	opRead
	numOps
)

// Error kinds, a partition of the failures a worker sees.
const (
	errTimeout = iota
	errUnavailable
	errNotFound
	errSessionLost
	errRejected
	errOther
	numErrKinds
)

// errKindName names an error kind in the output.
func errKindName(k int) string {
	switch k {
	case errTimeout:
		return "timeout"
	case errUnavailable:
		return "unavailable"
	case errNotFound:
		return "not_found"
	case errSessionLost:
		return "session_lost"
	case errRejected:
		return "rejected"
	}
	return "other"
}

// errorKind sorts a client error into one of the kinds above.
func errorKind(err error) int {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return errTimeout
	case errors.Is(err, client.ErrUnavailable):
		return errUnavailable
	case errors.Is(err, client.ErrNotFound):
		return errNotFound
	case errors.Is(err, client.ErrSessionLost):
		return errSessionLost
	case errors.Is(err, client.ErrRejected), errors.Is(err, client.ErrConflict):
		return errRejected
	}
	return errOther
}

// runStats collects one run's measurements. Workers record concurrently.
type runStats struct {
	start, end time.Time
	window     time.Duration // the phase's duration; 0 for the load step
	hist       [numOps]*latencyHist
	seconds    []atomic.Pointer[secondStats]
	ops        [numOps]atomic.Uint64
	inWindow   atomic.Uint64 // successes completed within window
	errs       atomic.Uint64
	indefinite atomic.Uint64
	kinds      [numErrKinds]atomic.Uint64

	exMu     sync.Mutex
	examples [numErrKinds]string
}

// secondStats is one second of a run.
type secondStats struct {
	hist latencyHist
	errs atomic.Uint64
}

// newRunStats makes the stats of a run of d (0: of no fixed length, with
// no per-second series). The series has one slot per second of d; the
// operations still in flight at the end count in the last.
func newRunStats(start time.Time, d time.Duration) *runStats {
	st := &runStats{start: start, window: d}
	for i := range st.hist {
		st.hist[i] = newLatencyHist()
	}
	if d > 0 {
		st.seconds = make([]atomic.Pointer[secondStats], int((d+time.Second-1)/time.Second))
	}
	return st
}

func (st *runStats) second(t time.Time) *secondStats {
	if len(st.seconds) == 0 {
		return nil
	}
	i := min(int(t.Sub(st.start)/time.Second), len(st.seconds)-1)
	if s := st.seconds[i].Load(); s != nil {
		return s
	}
	s := &secondStats{}
	if st.seconds[i].CompareAndSwap(nil, s) {
		return s
	}
	return st.seconds[i].Load()
}

func (st *runStats) record(op int, t0, t1 time.Time, err error) {
	sec := st.second(t1)
	if err != nil {
		st.errs.Add(1)
		k := errorKind(err)
		if st.kinds[k].Add(1) == 1 {
			st.exMu.Lock()
			st.examples[k] = err.Error()
			st.exMu.Unlock()
		}
		if client.IsIndefinite(err) {
			st.indefinite.Add(1)
		}
		if sec != nil {
			sec.errs.Add(1)
		}
		return
	}
	us := uint64(t1.Sub(t0) / time.Microsecond)
	st.hist[op].record(us)
	st.ops[op].Add(1)
	if sec != nil {
		sec.hist.record(us)
	}
	if st.window > 0 && t1.Sub(st.start) <= st.window {
		st.inWindow.Add(1)
	}
}

// done returns the operations finished so far, successful or not, and the
// errors among them.
func (st *runStats) done() (ops, errs uint64) {
	errs = st.errs.Load()
	for i := range st.ops {
		ops += st.ops[i].Load()
	}
	return ops + errs, errs
}

// result summarises a finished phase.
func (st *runStats) result(p phaseSpec, d time.Duration) phaseResult {
	all := newLatencyHist()
	for _, h := range st.hist {
		all.merge(h)
	}
	r := phaseResult{
		Name: p.name, ReadFraction: p.readFrac, Seconds: d.Seconds(), ElapsedSeconds: st.end.Sub(st.start).Seconds(),
		Reads: st.ops[opRead].Load(), Writes: st.ops[opWrite].Load(), Errors: st.errs.Load(),
		Indefinite: st.indefinite.Load(), Latency: all.summary(),
	}
	r.Ops = r.Reads + r.Writes
	r.OpsPerSec = float64(st.inWindow.Load()) / d.Seconds()
	if n := r.Ops + r.Errors; n > 0 {
		r.ErrorRate = float64(r.Errors) / float64(n)
	}
	if p.readFrac > 0 && p.readFrac < 1 {
		rl, wl := st.hist[opRead].summary(), st.hist[opWrite].summary()
		r.ReadLatency, r.WriteLatency = &rl, &wl
	}
	for k := range st.kinds {
		if n := st.kinds[k].Load(); n > 0 {
			r.ErrorsByKind = append(r.ErrorsByKind, errorCount{Kind: errKindName(k), Count: n, Example: st.examples[k]})
		}
	}
	for i := range st.seconds {
		span := min(d-time.Duration(i)*time.Second, time.Second)
		s := secondJSON{Second: i, Span: span.Seconds()}
		if sec := st.seconds[i].Load(); sec != nil {
			sum := sec.hist.summary()
			s.Ops, s.Errors, s.P50Us, s.P99Us = sum.Count, sec.errs.Load(), sum.P50Us, sum.P99Us
		}
		s.OpsPerSec = float64(s.Ops) / span.Seconds()
		r.Series = append(r.Series, s)
	}
	return r
}

// latencyHist is a log-linear histogram of microsecond latencies, safe for
// concurrent use: values below 2*histSub are counted exactly; above, each
// power of two is split into histSub buckets, so a bucket's upper bound is
// within 1/histSub (0.8%) of any value in it. Values are clamped at
// histMax (about 19 hours).
type latencyHist struct {
	counts [histBuckets]atomic.Uint64
	count  atomic.Uint64
	sum    atomic.Uint64
	max    atomic.Uint64
}

const (
	histSubBits = 7
	histSub     = 1 << histSubBits
	histMaxBits = 36
	histMax     = 1<<histMaxBits - 1
	histBuckets = 2*histSub + (histMaxBits-histSubBits-1)*histSub
)

func newLatencyHist() *latencyHist { return &latencyHist{} }

// histIndex returns the bucket of v (v <= histMax).
func histIndex(v uint64) int {
	if v < 2*histSub {
		return int(v)
	}
	e := bits.Len64(v) - histSubBits - 1 // v>>e is in [histSub, 2*histSub)
	return 2*histSub + (e-1)*histSub + int(v>>e) - histSub
}

// histUpper returns the largest value in bucket i.
func histUpper(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	k := i - 2*histSub
	e := k/histSub + 1
	m := uint64(k%histSub + histSub)
	return (m+1)<<e - 1
}

func (h *latencyHist) record(us uint64) {
	us = min(us, histMax)
	h.counts[histIndex(us)].Add(1)
	h.count.Add(1)
	h.sum.Add(us)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			break
		}
	}
}

// merge adds o's counts to h. Neither may be recording meanwhile.
func (h *latencyHist) merge(o *latencyHist) {
	for i := range o.counts {
		if n := o.counts[i].Load(); n > 0 {
			h.counts[i].Add(n)
		}
	}
	h.count.Add(o.count.Load())
	h.sum.Add(o.sum.Load())
	h.max.Store(max(h.max.Load(), o.max.Load()))
}

// quantile returns the value at or below which a fraction q of the
// recorded values lie: the upper bound of the bucket holding it, never
// more than the maximum recorded.
func (h *latencyHist) quantile(q float64) uint64 {
	n := h.count.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = max(rank, 1)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return min(histUpper(i), h.max.Load())
		}
	}
	return h.max.Load()
}

func (h *latencyHist) summary() latencyJSON {
	s := latencyJSON{Count: h.count.Load(), MaxUs: h.max.Load(),
		P50Us: h.quantile(0.50), P90Us: h.quantile(0.90), P99Us: h.quantile(0.99), P999Us: h.quantile(0.999)}
	if s.Count > 0 {
		s.MeanUs = float64(h.sum.Load()) / float64(s.Count)
	}
	return s
}

// startProgress shows a run's progress on w until the returned function is
// called: on a terminal, one line rewritten four times a second; otherwise
// a line a second. total 0 means the run has no fixed length.
func startProgress(w io.Writer, quiet bool, label string, total time.Duration, st *runStats) (stop func()) {
	if quiet {
		return func() {}
	}
	tty := isTerminal(w)
	every := time.Second
	if tty {
		every = 250 * time.Millisecond
	}
	type sample struct {
		t   time.Time
		ops uint64
	}
	ring := []sample{{t: st.start}}
	line := func(now time.Time) string {
		ops, errs := st.done()
		ring = append(ring, sample{now, ops})
		if len(ring) > 5 { // a one-second window on a terminal
			ring = ring[1:]
		}
		rate := 0.0
		if dt := now.Sub(ring[0].t).Seconds(); dt > 0 {
			rate = float64(ops-ring[0].ops) / dt
		}
		el := now.Sub(st.start).Round(100 * time.Millisecond)
		at := el.String()
		if total > 0 {
			at = fmt.Sprintf("%s/%s", min(el, total), total)
		}
		return fmt.Sprintf("%-14s %10s %9d ops %7.0f ops/s %5d errors", label, at, ops, rate, errs)
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case now := <-t.C:
				if tty {
					fmt.Fprintf(w, "\r%s\x1b[K", line(now))
				} else {
					fmt.Fprintln(w, line(now))
				}
			case <-done:
				if tty {
					fmt.Fprintf(w, "\r%s  done\x1b[K\n", line(time.Now()))
				} else {
					fmt.Fprintln(w, line(time.Now())+"  done")
				}
				return
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// benchCluster is an in-process cluster.
type benchCluster struct {
	servers   []*server.Server
	endpoints []string
	dir       string
	temp      bool
}

// startBenchCluster starts n members on free loopback ports, their data in
// dataDir or a new temporary directory.
func startBenchCluster(n int, dataDir string, lease bool, log *slog.Logger) (*benchCluster, error) {
	c := &benchCluster{dir: dataDir}
	if dataDir == "" {
		tmp, err := os.MkdirTemp("", "raftkv-bench-")
		if err != nil {
			return nil, fmt.Errorf("temporary data dir: %w", err)
		}
		c.dir, c.temp = tmp, true
	}
	var err error
	// A port found free may be taken before the server binds it: retry
	// with fresh ports.
	for attempt := 0; attempt < 3; attempt++ {
		if err = c.start(n, lease, log); err == nil {
			return c, nil
		}
		_ = c.stop()
	}
	return nil, err
}

func (c *benchCluster) start(n int, lease bool, log *slog.Logger) error {
	ports, err := freePorts(2 * n)
	if err != nil {
		return err
	}
	var peers []server.Peer
	c.endpoints = nil
	for i := 0; i < n; i++ {
		u := fmt.Sprintf("http://127.0.0.1:%d", ports[2*i])
		peers = append(peers, server.Peer{ID: uint64(i + 1), PeerAddr: fmt.Sprintf("127.0.0.1:%d", ports[2*i+1]), ClientURL: u})
		c.endpoints = append(c.endpoints, u)
	}
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	for _, p := range peers {
		s, err := server.Start(server.Config{
			ID: p.ID, DataDir: filepath.Join(c.dir, run, fmt.Sprintf("node%d", p.ID)), Peers: peers,
			ClusterID: "bench", LeaseReads: lease, Logger: log,
		})
		if err != nil {
			return fmt.Errorf("node %d: %w", p.ID, err)
		}
		c.servers = append(c.servers, s)
	}
	return nil
}

// stop stops the servers and removes a temporary data directory.
func (c *benchCluster) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	for _, s := range c.servers {
		if err := s.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	c.servers = nil
	if c.temp {
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", c.dir, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stopping the in-process cluster: %w", err)
	}
	return nil
}

// fatalErrors returns the errors that stopped members during the run.
func (c *benchCluster) fatalErrors() []string {
	var out []string
	for i, s := range c.servers {
		if err := s.Err(); err != nil {
			out = append(out, fmt.Sprintf("node %d: %v", i+1, err))
		}
	}
	return out
}

// freePorts returns n distinct loopback ports free at the time of asking.
func freePorts(n int) ([]int, error) {
	var ports []int
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// raftCounters is what the bench reads from the nodes around a phase.
type raftCounters struct {
	ok       bool
	commit   uint64 // the leader's commit index
	messages uint64 // peer messages sent, all nodes
	leader   uint64
	leaderTx uint64 // peer messages the leader sent
}

// counters reads the leader's commit index and every node's peer message
// counters (from /metrics). ok is false if any node did not answer.
func (b *bench) counters(ctx context.Context) raftCounters {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	rc := raftCounters{ok: true}
	for _, ep := range b.endpoints {
		st, err := b.probe.Status(ctx, ep)
		if err != nil {
			return raftCounters{}
		}
		sent, err := scrapeSent(ctx, b.transport, ep)
		if err != nil {
			return raftCounters{}
		}
		rc.messages += sent
		if st.Role == "leader" {
			rc.commit, rc.leader, rc.leaderTx = st.CommitIndex, st.ID, sent
		}
	}
	if rc.leader == 0 {
		return raftCounters{}
	}
	return rc
}

// scrapeSent sums raftkv_peer_sent_messages_total in ep's /metrics.
func scrapeSent(ctx context.Context, tr http.RoundTripper, ep string) (uint64, error) {
	u := strings.TrimRight(ep, "/")
	if !strings.Contains(u, "://") {
		u = "http://" + u
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+"/metrics", nil)
	if err != nil {
		return 0, fmt.Errorf("metrics request: %w", err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 0, fmt.Errorf("metrics of %s: %w", ep, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("metrics of %s: %s", ep, resp.Status)
	}
	var total float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "raftkv_peer_sent_messages_total{") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return 0, fmt.Errorf("metrics of %s: %q: %w", ep, line, err)
		}
		total += v
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("metrics of %s: %w", ep, err)
	}
	return uint64(total), nil
}

// diffCounters turns the counters around a phase into per-operation
// figures, or nil if they could not be read or the leader changed.
func diffCounters(before, after raftCounters, ops uint64, nodes int) *raftJSON {
	if !before.ok || !after.ok || before.leader != after.leader || ops == 0 {
		return nil
	}
	r := &raftJSON{
		Leader: after.leader, Entries: after.commit - before.commit,
		Messages: after.messages - before.messages, LeaderMessages: after.leaderTx - before.leaderTx,
	}
	r.MessagesPerOp = float64(r.Messages) / float64(ops)
	if followers := float64(nodes - 1); followers > 0 && r.Entries > 0 {
		if r.LeaderMessages > 0 {
			r.EntriesPerLeaderMessage = float64(r.Entries) / (float64(r.LeaderMessages) / followers)
		}
		if fm := r.Messages - r.LeaderMessages; fm > 0 {
			r.EntriesPerFollowerMessage = float64(r.Entries) / (float64(fm) / followers)
		}
	}
	return r
}

// cpuSample is the machine's and this process's CPU time so far, in clock
// ticks, from /proc (ok false elsewhere).
type cpuSample struct {
	ok                bool
	total, idle, self uint64
}

func sampleCPU() cpuSample {
	st, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuSample{}
	}
	line, _, _ := strings.Cut(string(st), "\n")
	fields := strings.Fields(line)
	if len(fields) < 6 || fields[0] != "cpu" {
		return cpuSample{}
	}
	var s cpuSample
	for i, f := range fields[1:] {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return cpuSample{}
		}
		s.total += v
		if i == 3 || i == 4 { // idle, iowait
			s.idle += v
		}
	}
	self, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return cpuSample{}
	}
	// Fields after the command name (which may hold spaces): state is the
	// first, utime and stime the 12th and 13th.
	i := strings.LastIndexByte(string(self), ')')
	rest := strings.Fields(string(self)[i+1:])
	if i < 0 || len(rest) < 13 {
		return cpuSample{}
	}
	ut, err1 := strconv.ParseUint(rest[11], 10, 64)
	stm, err2 := strconv.ParseUint(rest[12], 10, 64)
	if err1 != nil || err2 != nil {
		return cpuSample{}
	}
	s.self, s.ok = ut+stm, true
	return s
}

// cpuBetween returns how busy the machine's CPUs were between a and b, and
// how much of that was this process; nil if unknown.
func cpuBetween(a, b cpuSample) *cpuJSON {
	if !a.ok || !b.ok || b.total <= a.total {
		return nil
	}
	total := float64(b.total - a.total)
	c := &cpuJSON{Busy: float64((b.total-a.total)-(b.idle-a.idle)) / total, Bench: float64(b.self-a.self) / total}
	// The process's time is exact, the machine's sampled per tick: over a
	// short phase they may disagree by a few percent.
	c.Bench = min(c.Bench, c.Busy)
	c.Others = c.Busy - c.Bench
	return c
}

// probeMachine describes the machine the bench runs on.
func probeMachine() benchMachine {
	m := benchMachine{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// loadAvg returns the 1, 5 and 15 minute load averages, nil where the OS
// does not tell (outside Linux).
func loadAvg() []float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return nil
	}
	fields := strings.Fields(string(b))
	if len(fields) < 3 {
		return nil
	}
	var out []float64
	for _, f := range fields[:3] {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return nil
		}
		out = append(out, v)
	}
	return out
}

// probeFsync returns the median time, in µs, of appending 4 KiB to a file
// in dir and fsyncing it (0 if that fails): the disk's floor under a
// durable write.
func probeFsync(dir string, n int) float64 {
	f, err := os.CreateTemp(dir, "fsync-probe-")
	if err != nil {
		return 0
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	var ds []time.Duration
	for i := 0; i < n; i++ {
		if _, err := f.Write(buf); err != nil {
			return 0
		}
		t0 := time.Now()
		if err := f.Sync(); err != nil {
			return 0
		}
		ds = append(ds, time.Since(t0))
	}
	return medianUs(ds)
}

// probeLoopback returns the median round trip, in µs, of one byte over a
// loopback TCP connection (0 if that fails).
func probeLoopback(n int) float64 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, c)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return 0
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	b := []byte{1}
	var ds []time.Duration
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if _, err := c.Write(b); err != nil {
			return 0
		}
		if _, err := io.ReadFull(c, b); err != nil {
			return 0
		}
		ds = append(ds, time.Since(t0))
	}
	return medianUs(ds)
}

func medianUs(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return float64(ds[len(ds)/2]) / float64(time.Microsecond)
}

// benchReport is bench's -o json document.
type benchReport struct {
	Workload     benchWorkload `json:"workload"`
	Machine      benchMachine  `json:"machine"`
	Load         *loadResult   `json:"load,omitempty"`
	Phases       []phaseResult `json:"phases"`
	ServerErrors []string      `json:"server_errors,omitempty"`
	// OK is false if a phase failed --max-errors or the run was
	// interrupted; Failed says why.
	OK     bool     `json:"ok"`
	Failed []string `json:"failed,omitempty"`
}

// benchWorkload states what was measured.
type benchWorkload struct {
	Cluster           string   `json:"cluster"` // "in-process" or "external"
	Endpoints         []string `json:"endpoints"`
	Nodes             int      `json:"nodes"`
	Fsync             bool     `json:"fsync"`
	DataDir           string   `json:"data_dir,omitempty"`
	Clients           int      `json:"clients"`
	ClientMode        string   `json:"client_mode"`
	Keys              int      `json:"keys"`
	KeySize           int      `json:"key_size"`
	ValueSize         int      `json:"value_size"`
	ReadMode          string   `json:"read_mode"`
	Phases            []string `json:"phases"`
	MixedReadFraction float64  `json:"mixed_read_fraction,omitempty"`
	DurationSeconds   float64  `json:"duration_seconds"`
	WarmupSeconds     float64  `json:"warmup_seconds"`
	OpTimeout         string   `json:"op_timeout"`
	Seed              uint64   `json:"seed"`
}

// benchMachine describes the machine and its measured limits.
type benchMachine struct {
	GOOS             string    `json:"goos"`
	GOARCH           string    `json:"goarch"`
	CPUs             int       `json:"cpus"`
	GOMAXPROCS       int       `json:"gomaxprocs"`
	CPUModel         string    `json:"cpu_model,omitempty"`
	GoVersion        string    `json:"go_version"`
	LoadAvgStart     []float64 `json:"loadavg_start,omitempty"`
	LoadAvgEnd       []float64 `json:"loadavg_end,omitempty"`
	FsyncP50Us       float64   `json:"fsync_p50_us"`
	FsyncDir         string    `json:"fsync_dir"`
	LoopbackRTTP50Us float64   `json:"loopback_rtt_p50_us"`
}

// loadResult is the step that writes missing keys before reads.
type loadResult struct {
	Keys    uint64  `json:"keys"`
	Seconds float64 `json:"seconds"`
	Errors  uint64  `json:"errors"`
	Missing int     `json:"missing"` // keys still unwritten after it
}

// phaseResult is one phase's figures.
type phaseResult struct {
	Name         string  `json:"name"`
	ReadFraction float64 `json:"read_fraction"`
	Seconds      float64 `json:"seconds"`
	// ElapsedSeconds runs until the last operation in flight at the end
	// of Seconds returned.
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	// Ops counts successful operations (Reads + Writes); OpsPerSec those
	// completed within Seconds, divided by Seconds.
	Ops          uint64       `json:"ops"`
	Reads        uint64       `json:"reads"`
	Writes       uint64       `json:"writes"`
	OpsPerSec    float64      `json:"ops_per_sec"`
	Errors       uint64       `json:"errors"`
	ErrorRate    float64      `json:"error_rate"`
	Indefinite   uint64       `json:"indefinite_writes"`
	ErrorsByKind []errorCount `json:"errors_by_kind,omitempty"`
	// Latency covers successful operations; ReadLatency and WriteLatency
	// split it in the mixed phase.
	Latency      latencyJSON  `json:"latency"`
	ReadLatency  *latencyJSON `json:"read_latency,omitempty"`
	WriteLatency *latencyJSON `json:"write_latency,omitempty"`
	Raft         *raftJSON    `json:"raft,omitempty"`
	CPU          *cpuJSON     `json:"cpu,omitempty"`
	Series       []secondJSON `json:"series"`
	Interrupted  bool         `json:"interrupted,omitempty"`
}

// latencyJSON is a latency distribution in microseconds.
type latencyJSON struct {
	Count  uint64  `json:"count"`
	MeanUs float64 `json:"mean_us"`
	P50Us  uint64  `json:"p50_us"`
	P90Us  uint64  `json:"p90_us"`
	P99Us  uint64  `json:"p99_us"`
	P999Us uint64  `json:"p999_us"`
	MaxUs  uint64  `json:"max_us"`
}

// cpuJSON is the share of all the machine's CPU time during a phase that
// was busy, spent by this process (the bench's clients, and the servers
// when in-process), and spent by everything else: other processes, the
// kernel's threads and interrupts. A high Others means a noisy machine.
type cpuJSON struct {
	Busy   float64 `json:"busy"`
	Bench  float64 `json:"bench_process"`
	Others float64 `json:"others"`
}

// errorCount is one kind of failure, with the first message seen.
type errorCount struct {
	Kind    string `json:"kind"`
	Count   uint64 `json:"count"`
	Example string `json:"example"`
}

// raftJSON is what the cluster's counters say about a phase: log entries
// committed, peer messages sent (by all nodes, and by the leader), and how
// many entries each leader-to-follower and each follower-to-leader message
// stood for on average, heartbeats included. A leader message is usually
// one append, sent after one leader fsync; a follower message usually
// acknowledges one follower fsync, which may cover several appends. So the
// two are estimates of the entries per fsync on each side.
type raftJSON struct {
	Leader                    uint64  `json:"leader"`
	Entries                   uint64  `json:"entries"`
	Messages                  uint64  `json:"messages"`
	LeaderMessages            uint64  `json:"leader_messages"`
	MessagesPerOp             float64 `json:"messages_per_op"`
	EntriesPerLeaderMessage   float64 `json:"entries_per_leader_message,omitempty"`
	EntriesPerFollowerMessage float64 `json:"entries_per_follower_message,omitempty"`
}

// secondJSON is one second of a phase.
type secondJSON struct {
	Second    int     `json:"second"`
	Span      float64 `json:"span"` // seconds covered: 1 but perhaps for the last
	Ops       uint64  `json:"ops"`
	OpsPerSec float64 `json:"ops_per_sec"`
	Errors    uint64  `json:"errors"`
	P50Us     uint64  `json:"p50_us"`
	P99Us     uint64  `json:"p99_us"`
}

// fmtUs renders microseconds for people.
func fmtUs(us float64) string {
	switch {
	case us < 1000:
		return fmt.Sprintf("%.0fµs", us)
	case us < 10000:
		return fmt.Sprintf("%.2fms", us/1000)
	case us < 1e6:
		return fmt.Sprintf("%.1fms", us/1000)
	}
	return fmt.Sprintf("%.2fs", us/1e6)
}

func fmtLoad(l []float64) string {
	if len(l) < 3 {
		return "unknown"
	}
	return fmt.Sprintf("%.2f %.2f %.2f", l[0], l[1], l[2])
}

func describeWorkload(w benchWorkload) string {
	var b strings.Builder
	if w.Cluster == "in-process" {
		fmt.Fprintf(&b, "%d nodes in this process on 127.0.0.1, fsync on (data in %s)\n", w.Nodes, w.DataDir)
	} else {
		fmt.Fprintf(&b, "external cluster of %d endpoints (%s), fsync on\n", w.Nodes, strings.Join(w.Endpoints, ","))
	}
	fmt.Fprintf(&b, "%d clients (%s), %d keys of %d B, values of %d B, reads %s\n",
		w.Clients, w.ClientMode, w.Keys, w.KeySize, w.ValueSize, w.ReadMode)
	fmt.Fprintf(&b, "phases %s", strings.Join(w.Phases, ", "))
	if w.MixedReadFraction > 0 {
		fmt.Fprintf(&b, " (mixed: %.0f%% reads)", 100*w.MixedReadFraction)
	}
	fmt.Fprintf(&b, ", %gs each after %gs warmup", w.DurationSeconds, w.WarmupSeconds)
	return b.String()
}

func describeMachine(m benchMachine) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s, %d CPUs (GOMAXPROCS %d)", m.GOOS, m.GOARCH, m.CPUs, m.GOMAXPROCS)
	if m.CPUModel != "" {
		fmt.Fprintf(&b, " %s", m.CPUModel)
	}
	fmt.Fprintf(&b, ", %s; load average %s before, %s after\n", m.GoVersion, fmtLoad(m.LoadAvgStart), fmtLoad(m.LoadAvgEnd))
	fmt.Fprintf(&b, "fsync of 4 KiB: %s median (in %s); loopback TCP round trip: %s median",
		fmtUs(m.FsyncP50Us), m.FsyncDir, fmtUs(m.LoopbackRTTP50Us))
	return b.String()
}

// printBenchText writes the report for people.
func printBenchText(w io.Writer, rep *benchReport) {
	fmt.Fprintf(w, "workload: %s\n", strings.ReplaceAll(describeWorkload(rep.Workload), "\n", "\n          "))
	fmt.Fprintf(w, "machine:  %s\n", strings.ReplaceAll(describeMachine(rep.Machine), "\n", "\n          "))
	if rep.Load != nil {
		fmt.Fprintf(w, "load:     wrote %d missing keys in %.1fs before the first read", rep.Load.Keys, rep.Load.Seconds)
		if rep.Load.Missing > 0 {
			fmt.Fprintf(w, " (%d keys still missing after %d errors: reads of them fail as not_found)", rep.Load.Missing, rep.Load.Errors)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "phase\treads\tops\tops/s\tp50\tp99\tp99.9\tmax\terrors\t")
	row := func(name string, readFrac float64, ops uint64, rate string, l latencyJSON, errs string) {
		fmt.Fprintf(tw, "%s\t%.0f%%\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name, 100*readFrac, ops, rate,
			fmtUs(float64(l.P50Us)), fmtUs(float64(l.P99Us)), fmtUs(float64(l.P999Us)), fmtUs(float64(l.MaxUs)), errs)
	}
	for _, p := range rep.Phases {
		row(p.Name, p.ReadFraction, p.Ops, fmt.Sprintf("%.0f", p.OpsPerSec), p.Latency, strconv.FormatUint(p.Errors, 10))
		if p.ReadLatency != nil {
			row("  reads", 1, p.Reads, "", *p.ReadLatency, "")
			row("  writes", 0, p.Writes, "", *p.WriteLatency, "")
		}
	}
	tw.Flush()
	for _, p := range rep.Phases {
		if c := p.CPU; c != nil {
			fmt.Fprintf(w, "\n%s: CPUs %.0f%% busy: this process %.0f%%, other processes and the kernel %.0f%%", p.Name, 100*c.Busy, 100*c.Bench, 100*c.Others)
			if c.Others > 0.15 {
				fmt.Fprint(w, " (a noisy machine: compare runs with care)")
			}
		}
		if r := p.Raft; r != nil {
			fmt.Fprintf(w, "\n%s: %d log entries committed, %.2f peer messages per operation", p.Name, r.Entries, r.MessagesPerOp)
			if r.EntriesPerLeaderMessage > 0 {
				fmt.Fprintf(w, ",\n  %.1f entries per leader-to-follower message, %.1f per follower-to-leader message (~ entries per fsync)",
					r.EntriesPerLeaderMessage, r.EntriesPerFollowerMessage)
			}
		}
		if p.Errors > 0 {
			fmt.Fprintf(w, "\n%s: %d errors (%.3f%%)", p.Name, p.Errors, 100*p.ErrorRate)
			if p.Indefinite > 0 {
				fmt.Fprintf(w, ", %d writes of unknown outcome", p.Indefinite)
			}
			for _, e := range p.ErrorsByKind {
				fmt.Fprintf(w, "\n  %-12s %d, e.g. %s", e.Kind, e.Count, e.Example)
			}
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "\nLatencies are of successful operations; ops/s counts those completed within the phase.")
	for _, e := range rep.ServerErrors {
		fmt.Fprintf(w, "server error: %s\n", e)
	}
	for _, f := range rep.Failed {
		fmt.Fprintf(w, "FAILED: %s\n", f)
	}
}

// writeBenchHTML writes a self-contained page: the workload, the results
// table, and per phase throughput and p50/p99 latency over time as inline
// SVG.
func writeBenchHTML(w io.Writer, rep *benchReport) error {
	var b strings.Builder
	e := html.EscapeString
	b.WriteString(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>raftkv bench</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}
table{border-collapse:collapse}td,th{padding:.2em .7em;text-align:right;border-bottom:1px solid #ddd}
th:first-child,td:first-child{text-align:left}pre{background:#f6f6f6;padding:.6em;white-space:pre-wrap}
svg text{font:11px system-ui,sans-serif;fill:#444}.fail{color:#b00}
</style></head><body>
<h1>raftkv bench</h1>
`)
	fmt.Fprintf(&b, "<pre>%s\n%s</pre>\n", e(describeWorkload(rep.Workload)), e(describeMachine(rep.Machine)))
	for _, f := range rep.Failed {
		fmt.Fprintf(&b, "<p class=\"fail\">FAILED: %s</p>\n", e(f))
	}
	b.WriteString("<table><tr><th>phase</th><th>reads</th><th>ops</th><th>ops/s</th><th>p50</th><th>p99</th><th>p99.9</th><th>max</th><th>errors</th></tr>\n")
	for _, p := range rep.Phases {
		l := p.Latency
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%.0f%%</td><td>%d</td><td>%.0f</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%d</td></tr>\n",
			e(p.Name), 100*p.ReadFraction, p.Ops, p.OpsPerSec, fmtUs(float64(l.P50Us)), fmtUs(float64(l.P99Us)),
			fmtUs(float64(l.P999Us)), fmtUs(float64(l.MaxUs)), p.Errors)
	}
	b.WriteString("</table>\n")
	for _, p := range rep.Phases {
		fmt.Fprintf(&b, "<h2>%s</h2>\n", e(p.Name))
		if c := p.CPU; c != nil {
			fmt.Fprintf(&b, "<p>CPUs %.0f%% busy: this process %.0f%%, other processes and the kernel %.0f%%.</p>\n", 100*c.Busy, 100*c.Bench, 100*c.Others)
		}
		var xs, rate, p50, p99, errs []float64
		for _, s := range p.Series {
			xs = append(xs, float64(s.Second)+s.Span/2)
			rate = append(rate, s.OpsPerSec)
			p50 = append(p50, float64(s.P50Us)/1000)
			p99 = append(p99, float64(s.P99Us)/1000)
			errs = append(errs, float64(s.Errors))
		}
		b.WriteString(svgChart("throughput (ops/s), per second", xs, []svgSeries{{"ops/s", "#2a6ebb", rate}, {"errors", "#c0392b", errs}}))
		b.WriteString(svgChart("latency (ms), per second", xs, []svgSeries{{"p50", "#27ae60", p50}, {"p99", "#e67e22", p99}}))
		for _, ek := range p.ErrorsByKind {
			fmt.Fprintf(&b, "<p>%s: %d, e.g. <code>%s</code></p>\n", e(ek.Kind), ek.Count, e(ek.Example))
		}
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// svgSeries is one line of a chart.
type svgSeries struct {
	name, color string
	ys          []float64
}

// svgChart draws series against xs (seconds) as an inline SVG line chart
// with a zero-based y axis.
func svgChart(title string, xs []float64, series []svgSeries) string {
	const W, H, left, right, top, bottom = 720.0, 220.0, 60.0, 100.0, 24.0, 30.0
	pw, ph := W-left-right, H-top-bottom
	xmax, ymax := 1.0, 0.0
	for _, x := range xs {
		xmax = max(xmax, math.Ceil(x))
	}
	for _, s := range series {
		for _, y := range s.ys {
			ymax = max(ymax, y)
		}
	}
	ymax = niceCeil(ymax)
	px := func(x float64) float64 { return left + pw*x/xmax }
	py := func(y float64) float64 { return top + ph - ph*y/ymax }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f">`+"\n", W, H, W, H)
	fmt.Fprintf(&b, `<text x="%.0f" y="15" style="font-weight:bold">%s</text>`+"\n", left, html.EscapeString(title))
	for i := 0; i <= 4; i++ {
		y := ymax * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#ddd"/>`, left, left+pw, py(y), py(y))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", left-4, py(y)+4, fmtAxis(y))
	}
	step := math.Max(1, niceCeil(xmax/10))
	for x := 0.0; x <= xmax+1e-9; x += step {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%gs</text>`, px(x), top+ph+16, x)
	}
	b.WriteString("\n")
	for k, s := range series {
		var pts []string
		for i, y := range s.ys {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(xs[i]), py(y)))
		}
		if len(pts) == 1 { // one point: draw it from the origin's x
			pts = append([]string{fmt.Sprintf("%.1f,%.1f", px(0), py(s.ys[0]))}, pts...)
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", s.color, strings.Join(pts, " "))
		ly := top + 14 + float64(k)*16
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/><text x="%.1f" y="%.1f">%s</text>`+"\n",
			left+pw+10, left+pw+28, ly-4, ly-4, s.color, left+pw+32, ly, html.EscapeString(s.name))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// fmtAxis renders an axis value: 0.25, 7.5, 20000.
func fmtAxis(v float64) string {
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten (1 for v <= 0).
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}
