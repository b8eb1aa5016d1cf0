package coursesim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"time"
)

// Options configures a run.
type Options struct {
	// ReplicaPath is the replica program, started as
	// `<path> <UDP port> <own ID> <peer IDs...>`.
	ReplicaPath string
	// Seed fixes every random choice the simulator makes; see Run.
	Seed uint64
	// Logger receives the simulator's own log; nil discards it.
	Logger *slog.Logger
	// ReplicaOutput, if set, says where replica id's stdout and stderr go;
	// a nil writer (or a nil ReplicaOutput) discards them.
	ReplicaOutput func(id string) io.Writer
	// Observer, if set, is called with every event as it happens, from the
	// simulator's goroutines and never under a lock. It must return quickly:
	// it runs on the forwarding path.
	Observer func(Event)
	// KillGrace is how long replicas get between SIGTERM and SIGKILL at the
	// end of a run; 0 means one second.
	KillGrace time.Duration
	// Ties orders a request and a fault due at the same moment.
	Ties Ties
}

// ReplicaInfo describes one replica process after a run.
type ReplicaInfo struct {
	ID  string `json:"id"`
	PID int    `json:"pid"`
	// Hello means the simulator saw its hello and could deliver to it.
	Hello  bool   `json:"hello"`
	Killed bool   `json:"killed"`
	Died   bool   `json:"died"`
	Exit   string `json:"exit"`
}

// SecondStats is one second of a run, for the timeline.
type SecondStats struct {
	Second int `json:"second"`
	// Msgs counts replica-to-replica messages as TotalMsgs does.
	Msgs     int `json:"msgs"`
	Dropped  int `json:"dropped"`
	Blocked  int `json:"blocked"`
	Requests int `json:"requests"`
	Replies  int `json:"replies"`
	// Latency percentiles, in seconds, of replies that arrived this second.
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
}

// Result is everything a run produced.
type Result struct {
	Scenario Scenario      `json:"scenario"`
	Seed     uint64        `json:"seed"`
	Stats    Stats         `json:"stats"`
	Verdict  Verdict       `json:"verdict"`
	Replicas []ReplicaInfo `json:"replicas"`
	// Events is the run's event log, in order.
	Events []Event `json:"events"`
	// Forwarding is the simulator's own per-datagram overhead in this run.
	Forwarding Forwarding    `json:"forwarding"`
	Elapsed    time.Duration `json:"elapsed"`
	// Seconds is the per-second timeline (omitted from JSON: the HTML
	// report draws it).
	Seconds []SecondStats `json:"-"`
}

// Run simulates one scenario: it starts sc.Replicas replica processes,
// routes their datagrams, drives the clients and faults, and judges the
// result. It returns an error only when the run could not be carried out
// (the replica program is missing, a socket could not be opened, ctx was
// cancelled); a replica that misbehaves yields a Result whose Verdict says
// why. However Run ends, every replica process group has been killed.
//
// With the same Seed, the schedule (when each request goes, from which
// client, get or put), each request's key and value choices given the
// client's state, the fault victims and partition groups given the leader
// the simulator believes in, and the drop decisions for each replica's n-th
// message are the same. What depends on the replicas' timing (retries,
// MIDs, random replicas for clients without a leader) draws from its own
// seeded stream.
func Run(ctx context.Context, sc Scenario, opts Options) (*Result, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	path, err := ResolveReplica(opts.ReplicaPath)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &runner{
		eng:      newEngineTies(sc, opts.Seed, opts.Ties),
		log:      log.With("scenario", sc.Name),
		observer: opts.Observer,
		grace:    opts.KillGrace,
		stop:     make(chan struct{}),
	}
	if r.grace <= 0 {
		r.grace = time.Second
	}
	defer r.cleanup()
	if err := r.listen(sc.Replicas); err != nil {
		return nil, err
	}
	r.start = time.Now()
	for i := range r.conns {
		r.wg.Add(1)
		go r.read(i)
	}
	if err := r.launch(path, opts.ReplicaOutput); err != nil {
		return nil, err
	}
	r.log.Info("run started", "replicas", sc.Replicas, "seed", opts.Seed, "duration", sc.Duration())
	if err := r.schedule(ctx); err != nil {
		return nil, err
	}
	return r.result(opts.Seed), nil
}

// runner is the imperative shell around the engine: sockets, processes,
// goroutines and the clock.
type runner struct {
	// mu guards eng and fwd. It is held only around engine calls: never
	// across a syscall, a log call or the observer.
	mu  sync.Mutex
	eng *engine
	fwd []time.Duration

	log      *slog.Logger
	observer func(Event)
	grace    time.Duration
	start    time.Time // monotonic origin of the run
	conns    []*net.UDPConn
	procs    []*proc
	wg       sync.WaitGroup // readers and process waiters

	stop     chan struct{} // closed to end the run early (storm, panic)
	stopOnce sync.Once
	errMu    sync.Mutex
	err      error // first internal failure (a recovered panic)

	cleanOnce sync.Once
}

func (r *runner) now() time.Duration { return time.Since(r.start) }

func (r *runner) listen(n int) error {
	for i := range n {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return fmt.Errorf("open socket for replica %s: %w", formatID(uint16(i)), err)
		}
		// A large buffer rides out bursts; the kernel caps it at rmem_max.
		if err := c.SetReadBuffer(4 << 20); err != nil {
			r.log.Debug("set read buffer", "err", err)
		}
		r.conns = append(r.conns, c)
	}
	return nil
}

func (r *runner) launch(path string, output func(string) io.Writer) error {
	names := r.eng.names
	for i, id := range names {
		peers := slices.Concat(names[:i], names[i+1:])
		var out io.Writer
		if output != nil {
			out = output(id)
		}
		port := r.conns[i].LocalAddr().(*net.UDPAddr).Port
		p, err := startReplica(path, port, id, peers, out)
		if err != nil {
			return err
		}
		r.procs = append(r.procs, p)
		r.wg.Add(1)
		go r.waitProc(i, p)
		var o step
		r.withEngine(&o, func(e *engine, o *step) {
			e.note(o, Event{At: r.now(), Kind: EvStart, Replica: id, PID: p.pid})
		})
		r.after(&o)
	}
	return nil
}

// withEngine runs f on the engine under the lock; the deferred unlock keeps
// a panic in f from leaving the lock held while cleanup needs it.
func (r *runner) withEngine(out *step, f func(*engine, *step)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r.eng, out)
}

// onDatagram is withEngine for the hot path, without a closure. The
// datagram is decoded before the lock is taken: a large one must not hold
// up the other sockets.
func (r *runner) onDatagram(i int, addr netip.AddrPort, data []byte, now time.Duration, out *step) {
	var m message
	err := decodeMessage(data, &m)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.eng.route(i, addr, data, &m, err, now, out)
}

// read is replica i's socket loop: it blocks in a read and acts on each
// datagram the moment it arrives. Forwarding needs no timer and no other
// goroutine: the same goroutine decides and writes.
func (r *runner) read(i int) {
	defer r.wg.Done()
	defer r.recoverPanic("reader " + formatID(uint16(i)))
	conn := r.conns[i]
	buf := make([]byte, 1<<16)
	var out step
	var fwd []time.Duration
	defer func() {
		r.mu.Lock()
		r.fwd = append(r.fwd, fwd...)
		r.mu.Unlock()
	}()
	for {
		n, addr, err := conn.ReadFromUDPAddrPort(buf)
		t0 := time.Now()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			r.log.Debug("read", "replica", formatID(uint16(i)), "err", err)
			continue
		}
		out.reset()
		r.onDatagram(i, addr, buf[:n], t0.Sub(r.start), &out)
		r.write(&out)
		if len(out.sends) > 0 {
			fwd = append(fwd, time.Since(t0))
		}
		r.after(&out)
	}
}

// write sends the datagrams a step decided on, each from the destination
// replica's own socket (a replica may have connected its socket to the
// port it was given, and then accepts nothing from elsewhere).
func (r *runner) write(out *step) {
	for _, s := range out.sends {
		if _, err := r.conns[s.to].WriteToUDPAddrPort(s.data, s.addr); err != nil {
			r.log.Debug("write", "replica", formatID(uint16(s.to)), "err", err)
		}
	}
}

// after carries out the rest of a step: kills, logging, the observer and
// an early stop.
func (r *runner) after(out *step) {
	for _, i := range out.kills {
		if err := r.procs[i].signalGroup(syscall.SIGTERM); err != nil {
			r.log.Warn("kill replica", "replica", formatID(uint16(i)), "err", err)
		}
		// Closing its socket silences anything it sends while dying, as the
		// original closed a killed replica's socket.
		r.conns[i].Close()
	}
	for _, ev := range out.events {
		r.logEvent(ev)
		if r.observer != nil {
			r.observer(ev)
		}
	}
	if out.stop {
		r.stopOnce.Do(func() { close(r.stop) })
	}
}

func (r *runner) logEvent(ev Event) {
	attrs := []any{"at", ev.At.Round(time.Microsecond), "kind", ev.Kind}
	if ev.Replica != "" {
		attrs = append(attrs, "replica", ev.Replica)
	}
	if ev.Term != "" {
		attrs = append(attrs, "term", ev.Term)
	}
	if ev.Groups != nil {
		attrs = append(attrs, "groups", ev.Groups)
	}
	if ev.Detail != "" {
		attrs = append(attrs, "detail", ev.Detail)
	}
	if ev.PID != 0 {
		attrs = append(attrs, "pid", ev.PID)
	}
	switch ev.Kind {
	case EvIncorrect, EvDied, EvStorm, EvSkipped, EvUnanswered:
		r.log.Warn("event", attrs...)
	case EvKill, EvPartition, EvHeal:
		r.log.Info("event", attrs...)
	default:
		r.log.Debug("event", attrs...)
	}
}

func (r *runner) waitProc(i int, p *proc) {
	defer r.wg.Done()
	defer r.recoverPanic("waiter " + formatID(uint16(i)))
	p.wait()
	var out step
	r.withEngine(&out, func(e *engine, o *step) { e.exited(i, p.status, r.now(), o) })
	r.after(&out)
}

func (r *runner) recoverPanic(who string) {
	if v := recover(); v != nil {
		r.errMu.Lock()
		if r.err == nil {
			r.err = fmt.Errorf("coursesim: internal error in %s: %v", who, v)
		}
		r.errMu.Unlock()
		r.stopOnce.Do(func() { close(r.stop) })
	}
}

func (r *runner) internalErr() error {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return r.err
}

// schedule runs the precomputed schedule in real time until the end of the
// run, a packet storm, an internal failure or ctx's end.
func (r *runner) schedule(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var out step
	for k := range r.eng.schedule { // the schedule is immutable once built
		a := &r.eng.schedule[k]
		if wait := a.at - r.now(); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return fmt.Errorf("run %s: %w", r.eng.sc.Name, context.Cause(ctx))
			case <-r.stop:
			}
		}
		select {
		case <-r.stop:
			if err := r.internalErr(); err != nil {
				return err
			}
			return nil // packet storm: judge what happened so far
		case <-ctx.Done():
			return fmt.Errorf("run %s: %w", r.eng.sc.Name, context.Cause(ctx))
		default:
		}
		if a.kind == actEnd {
			return nil
		}
		out.reset()
		r.withEngine(&out, func(e *engine, o *step) {
			if a.kind == actEvent {
				e.event(a.event, r.now(), o)
			} else {
				e.request(a, r.now(), o)
			}
		})
		r.write(&out)
		r.after(&out)
	}
	return nil
}

// result ends the run, kills the replicas and judges what happened.
func (r *runner) result(seed uint64) *Result {
	var st Stats
	var elapsed time.Duration
	r.withEngine(nil, func(e *engine, _ *step) {
		elapsed = r.now()
		st = e.finish(elapsed)
	})
	r.log.Info("run ended", "elapsed", elapsed.Round(time.Millisecond))
	r.cleanup()
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.eng
	res := &Result{
		Scenario:   e.sc,
		Seed:       seed,
		Stats:      st,
		Verdict:    Judge(&e.sc, &st),
		Events:     e.events,
		Forwarding: summarizeForwarding(r.fwd),
		Elapsed:    elapsed,
	}
	for i, p := range r.procs {
		res.Replicas = append(res.Replicas, ReplicaInfo{
			ID: e.names[i], PID: p.pid, Hello: e.addr[i].IsValid(),
			Killed: e.killed[i], Died: e.died[i], Exit: p.status,
		})
	}
	for s := range e.buckets {
		b := &e.buckets[s]
		slices.Sort(b.lat)
		res.Seconds = append(res.Seconds, SecondStats{
			Second: s, Msgs: b.msgs, Dropped: b.dropped, Blocked: b.blocked,
			Requests: b.requests, Replies: len(b.lat),
			P50: quantile(b.lat, 0.5).Seconds(), P90: quantile(b.lat, 0.9).Seconds(), P99: quantile(b.lat, 0.99).Seconds(),
		})
	}
	return res
}

// cleanup kills every replica process group (SIGTERM, then SIGKILL after
// the grace period), closes the sockets and waits for every goroutine. It
// runs once, on every path out of Run, panics included.
func (r *runner) cleanup() {
	r.cleanOnce.Do(func() {
		for _, p := range r.procs {
			if err := p.signalGroup(syscall.SIGTERM); err != nil {
				r.log.Warn("terminate replica", "pid", p.pid, "err", err)
			}
		}
		deadline := time.NewTimer(r.grace)
		defer deadline.Stop()
		for _, p := range r.procs {
			select {
			case <-p.done:
			case <-deadline.C:
			}
		}
		// SIGKILL every group, also those whose leader exited: it may have
		// left children behind.
		for _, p := range r.procs {
			if err := p.signalGroup(syscall.SIGKILL); err != nil {
				r.log.Warn("kill replica", "pid", p.pid, "err", err)
			}
		}
		for _, c := range r.conns {
			c.Close()
		}
		r.wg.Wait()
	})
}
