package sim

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/raftkv/raftkv/internal/raft"
)

// Profile picks the shape of random runs.
type Profile struct {
	// Nodes, when set, fixes the cluster size; otherwise each seed picks
	// 3, 5 or 7.
	Nodes int
	// MinOps is the least number of client operations per run.
	MinOps int
	// FaultPhase is how long faults are injected. Default 20s.
	FaultPhase Time
	// LivenessBound is how long a healed cluster may take to answer every
	// pending request and converge. Default 20s.
	LivenessBound Time
	// Knobs break the protocol on purpose.
	Knobs raft.TestingKnobs
	// Stress strips the protocol's defences in depth (pre-vote,
	// CheckQuorum, multi-entry appends) and crashes nodes often, so that a
	// broken core rule has the most chances to show.
	Stress bool
	// Trace records the run's events.
	Trace bool
}

// Report is the outcome of one random run.
type Report struct {
	Seed    int64
	Config  string
	Err     error
	Stats   Stats
	Msgs    int
	Virtual Time
	// Trace and Visualize are set when the run failed or tracing was on.
	Trace []byte
	// history and linearization info, for the visualization.
	ops  []porcupine.Operation
	info porcupine.LinearizationInfo
	lin  porcupine.CheckResult
}

// pick draws the configuration of a seed: cluster size, replication mode,
// network faults, disk behaviour and workload. Everything derives from the
// seed, so a failing seed replays exactly.
func pick(seed int64, p Profile) Options {
	rng := rand.New(rand.NewPCG(uint64(seed), 0xc0f1))
	o := Options{Seed: seed, Knobs: p.Knobs, Trace: p.Trace}
	o.Nodes = p.Nodes
	if o.Nodes == 0 {
		o.Nodes = []int{3, 5, 5, 7}[rng.IntN(4)]
	}
	o.ElectionTick, o.HeartbeatTick = 30, 5
	switch rng.IntN(10) {
	case 0, 1, 2, 3:
		// Fan-out to every follower: the server's default.
	case 4, 5:
		o.EagerFollowers = o.Nodes / 2
		o.RetransmitTicks = 3
	default:
		o.EagerFollowers = o.Nodes / 2
		o.Chain = true
		o.ChainAckDelayTicks = rng.IntN(3)
		o.RetransmitTicks = o.ChainAckDelayTicks + 2 + rng.IntN(3)
	}
	o.ReplyByAck = o.Chain || rng.IntN(2) == 0
	o.LeaseReads = rng.IntN(3) > 0
	if rng.IntN(8) == 0 {
		o.DisablePreVote = true
	}
	if rng.IntN(3) == 0 {
		o.SnapshotEvery = uint64(10 + rng.IntN(60))
	}
	o.MaxEntriesPerMsg = []int{0, 4, 64}[rng.IntN(3)]
	o.MaxInflight = []int{0, 2, 16}[rng.IntN(3)]
	o.Net = NetOptions{
		Loss:     []float64{0, 0.01, 0.05, 0.1, 0.2, 0.3}[rng.IntN(6)],
		Dup:      []float64{0, 0, 0.05}[rng.IntN(3)],
		MinDelay: Time(time.Millisecond) / 2,
		MaxDelay: Time(time.Duration(1+rng.IntN(20)) * time.Millisecond),
	}
	o.FsyncLatency = Time(time.Duration(100+rng.IntN(2000)) * time.Microsecond)
	o.LoseUnsynced = rng.IntN(2) == 0
	if p.Stress {
		o.DisablePreVote, o.DisableCheckQuorum, o.LeaseReads = true, true, false
		o.MaxEntriesPerMsg, o.MaxInflight = 1, 1
		o.Chain, o.EagerFollowers, o.RetransmitTicks, o.ChainAckDelayTicks = false, 0, 0, 0
		o.ElectionTick = 10
	}
	minOps := max(p.MinOps, 200)
	clients := 3 + rng.IntN(4)
	o.Clients = ClientOptions{
		Clients:  clients,
		Ops:      (minOps + clients - 1) / clients,
		Keys:     3 + rng.IntN(5),
		GetRatio: 0.3 + 0.4*rng.Float64(),
		Think:    Time(time.Duration(rng.IntN(100)) * time.Millisecond),
		Timeout:  Time(300 * time.Millisecond),
	}
	// Drawn last so that adding it left every earlier choice of a seed as
	// it was.
	if !p.Stress && rng.IntN(2) == 0 {
		o.FirstElectionTick = 3 + rng.IntN(10)
	}
	if o.Chain && rng.IntN(2) == 0 {
		o.ChainFirstRetransmitTicks = 1 + rng.IntN(o.RetransmitTicks)
	}
	return o
}

func describeOptions(o Options) string {
	mode := "fanout"
	switch {
	case o.Chain:
		mode = fmt.Sprintf("chain(k=%d,ackdelay=%d,rt=%d,first-rt=%d)", o.EagerFollowers, o.ChainAckDelayTicks, o.RetransmitTicks, o.ChainFirstRetransmitTicks)
	case o.EagerFollowers > 0:
		mode = fmt.Sprintf("eager(k=%d,rt=%d)", o.EagerFollowers, o.RetransmitTicks)
	}
	if o.FirstElectionTick > 0 {
		mode += fmt.Sprintf(" first=%d", o.FirstElectionTick)
	}
	return fmt.Sprintf("nodes=%d %s replyByAck=%v lease=%v prevote=%v snapEvery=%d loss=%.2f dup=%.2f delay<=%s fsync=%s loseUnsynced=%v clients=%dx%d keys=%d gets=%.2f",
		o.Nodes, mode, o.ReplyByAck, o.LeaseReads, !o.DisablePreVote, o.SnapshotEvery, o.Net.Loss, o.Net.Dup,
		time.Duration(o.Net.MaxDelay), time.Duration(o.FsyncLatency), o.LoseUnsynced,
		o.Clients.Clients, o.Clients.Ops, o.Clients.Keys, o.Clients.GetRatio)
}

// faults injects a random schedule of partitions (symmetric, asymmetric,
// bridge), crashes (one node, a majority, all), pauses and leadership
// transfers until the fault phase ends.
type faults struct {
	c      *Cluster
	rng    *rand.Rand
	end    Time
	stress bool
}

func (f *faults) next() {
	c := f.c
	if c.sched.now >= f.end || c.err != nil {
		return
	}
	n := len(c.nodes)
	id := func() uint64 { return uint64(1 + f.rng.IntN(n)) }
	k := f.rng.IntN(20)
	if f.stress && k >= 14 {
		k = 9 + f.rng.IntN(3) // crashes instead of quiet periods
	}
	switch {
	case k < 3: // symmetric partition into two random groups
		perm := f.rng.Perm(n)
		cut := 1 + f.rng.IntN(n-1)
		var a, b []uint64
		for i, p := range perm {
			if i < cut {
				a = append(a, uint64(p+1))
			} else {
				b = append(b, uint64(p+1))
			}
		}
		c.Partition(a, b)
	case k < 4: // isolate the leader
		if l := c.Leader(); l != 0 {
			var rest []uint64
			for _, x := range c.ids() {
				if x != l {
					rest = append(rest, x)
				}
			}
			c.Partition([]uint64{l}, rest)
		}
	case k < 5: // asymmetric: a few one-way cuts
		for i := 0; i < 1+f.rng.IntN(n); i++ {
			a, b := id(), id()
			if a != b {
				c.Cut(a, b)
			}
		}
	case k < 6: // bridge: two halves that only one node connects
		perm := f.rng.Perm(n)
		bridge := uint64(perm[0] + 1)
		half := (n - 1) / 2
		var a, b []uint64
		for i, p := range perm[1:] {
			if i < half {
				a = append(a, uint64(p+1))
			} else {
				b = append(b, uint64(p+1))
			}
		}
		c.Partition(append(a, bridge), b)
		for _, x := range b {
			c.net.blocked[bridge][x], c.net.blocked[x][bridge] = false, false
		}
		c.tracef(c.sched.now, 0, "BRIDGE via %d", bridge)
	case k < 9:
		c.Heal()
	case k < 11: // crash one node, often the leader
		victim := id()
		if l := c.Leader(); l != 0 && f.rng.IntN(2) == 0 {
			victim = l
		}
		c.Crash(victim)
		f.restartLater(victim)
	case k < 12: // crash a majority, or everyone
		count := n/2 + 1
		if f.rng.IntN(3) == 0 {
			count = n
		}
		for _, p := range f.rng.Perm(n)[:count] {
			c.Crash(uint64(p + 1))
			f.restartLater(uint64(p + 1))
		}
	case k < 13: // a pause longer than an election timeout
		victim := id()
		if l := c.Leader(); l != 0 && f.rng.IntN(2) == 0 {
			victim = l
		}
		c.Pause(victim, Time(c.opt.ElectionTick*(1+f.rng.IntN(3)))*c.opt.Tick)
	case k < 14:
		if l := c.Leader(); l != 0 {
			_ = c.Transfer(l, id())
		}
	default:
		// quiet period
	}
	gap := Time(50+f.rng.IntN(700)) * Time(time.Millisecond)
	if f.stress {
		gap /= 4
	}
	c.sched.after(gap, f.next)
}

func (f *faults) restartLater(id uint64) {
	d := Time(100+f.rng.IntN(2000)) * Time(time.Millisecond)
	if f.stress {
		d = Time(f.rng.IntN(300)) * Time(time.Millisecond)
	}
	f.c.sched.after(d, func() {
		if f.c.sched.now < f.end {
			_ = f.c.Restart(id)
		}
	})
}

// RunSeed runs one random simulation: a fault phase with clients running,
// then a liveness phase where all faults heal and every pending request
// must be answered and every node converge within the bound, then a
// linearizability check of the client history.
func RunSeed(seed int64, p Profile) Report {
	if p.FaultPhase == 0 {
		p.FaultPhase = Time(20 * time.Second)
	}
	if p.LivenessBound == 0 {
		p.LivenessBound = Time(20 * time.Second)
	}
	o := pick(seed, p)
	rep := Report{Seed: seed, Config: describeOptions(o)}
	c, err := New(o)
	if err != nil {
		rep.Err = err
		return rep
	}
	// A normal run takes well under a million events.
	c.maxEvents = 5_000_000
	defer func() {
		if r := recover(); r != nil {
			rep.Err = fmt.Errorf("panic at %s: %v", c.sched.now, r)
			rep.Trace = c.Trace()
		}
	}()
	f := &faults{c: c, rng: rand.New(rand.NewPCG(uint64(seed), 0xfa17)), end: p.FaultPhase, stress: p.Stress}
	c.sched.after(Time(500*time.Millisecond), f.next)
	c.tracef(0, 0, "CONFIG seed=%d %s", seed, rep.Config)

	finish := func() Report {
		rep.Stats, rep.Msgs, rep.Virtual = c.Stats(), c.TotalSent(), c.sched.now
		if rep.Err != nil || p.Trace {
			rep.Trace = c.Trace()
		}
		return rep
	}

	// Fault phase: clients run while faults come and go, until the phase
	// ends and every client has issued its operations.
	if _, err := c.RunUntil(func() bool { return c.sched.now >= p.FaultPhase && c.allIssued() }, 10*p.FaultPhase); err != nil {
		rep.Err = err
		return finish()
	}
	// Liveness phase: heal everything and wait for answers and convergence.
	c.Heal()
	c.SetLoss(0)
	c.SetDup(0)
	for _, n := range c.nodes {
		if !n.up {
			_ = c.Restart(n.id)
		}
	}
	healed := c.sched.now
	c.tracef(healed, 0, "LIVENESS PHASE: healed, all nodes up")
	ok, err := c.RunUntil(func() bool { return c.ClientsIdle() && c.Converged() }, p.LivenessBound)
	if err != nil {
		rep.Err = err
		return finish()
	}
	if !ok {
		rep.Err = fmt.Errorf("liveness: %s after healing, %d client requests still pending or nodes not converged (%s)",
			time.Duration(p.LivenessBound), c.pendingOps(), c.convergenceSummary())
		return finish()
	}
	res, info, ops := c.linearizable(10 * time.Second)
	rep.ops, rep.info, rep.lin = ops, info, res
	if res != porcupine.Ok {
		rep.Err = fmt.Errorf("linearizability check: %s over %d operations", res, len(ops))
	}
	return finish()
}

func (c *Cluster) allIssued() bool {
	for _, cl := range c.clients {
		if cl.budget > 0 {
			return false
		}
	}
	return true
}

func (c *Cluster) pendingOps() int {
	n := 0
	for _, cl := range c.clients {
		if cl.op != nil {
			n++
		}
	}
	return n
}

func (c *Cluster) convergenceSummary() string {
	var parts []string
	for _, n := range c.nodes {
		if !n.up {
			parts = append(parts, fmt.Sprintf("n%d down", n.id))
			continue
		}
		st := n.drv.Raft().Status()
		parts = append(parts, fmt.Sprintf("n%d %s term=%d commit=%d applied=%d", n.id, st.Role, st.Term, st.Commit, n.drv.Applied()))
	}
	return strings.Join(parts, "; ")
}

// ReplayCommand is the command that reruns a seed of profile p with its
// trace.
func ReplayCommand(seed int64, p Profile) string {
	extra := ""
	if p.Nodes != 0 {
		extra += fmt.Sprintf(" --nodes %d", p.Nodes)
	}
	if p.Stress {
		extra += " --stress"
	}
	return fmt.Sprintf("go run ./cmd/raftkv dsim --seed %d%s --out out/dsim", seed, extra)
}

// WriteArtifacts writes a failing run's trace and porcupine's HTML
// visualisation into dir, returning the files written.
func (rep *Report) WriteArtifacts(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("artifacts: %w", err)
	}
	var files []string
	tr := filepath.Join(dir, fmt.Sprintf("seed-%d.trace.txt", rep.Seed))
	if err := os.WriteFile(tr, rep.Trace, 0o644); err != nil {
		return nil, fmt.Errorf("artifacts: %w", err)
	}
	files = append(files, tr)
	if len(rep.ops) > 0 {
		html := filepath.Join(dir, fmt.Sprintf("seed-%d.linearizability.html", rep.Seed))
		if err := porcupine.VisualizePath(kvModel, rep.info, html); err != nil {
			return files, fmt.Errorf("artifacts: visualize: %w", err)
		}
		files = append(files, html)
	}
	return files, nil
}
