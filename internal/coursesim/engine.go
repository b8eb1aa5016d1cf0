package coursesim

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"time"
)

// EventKind classifies what happened during a run, for the timeline, the
// result's event log and Options.Observer.
type EventKind string

// Kinds of run events.
const (
	EvStart     EventKind = "start"     // a replica process was started
	EvHello     EventKind = "hello"     // a replica's first hello arrived
	EvLeader    EventKind = "leader"    // the simulator's belief about the leader changed
	EvTerm      EventKind = "term"      // the believed leader reported a new term
	EvKill      EventKind = "kill"      // the simulator killed a replica
	EvDied      EventKind = "died"      // a replica exited on its own
	EvPartition EventKind = "partition" // a partition began
	EvHeal      EventKind = "heal"      // the partition ended
	EvSkipped   EventKind = "skipped"   // a scheduled fault could not be applied
	EvIncorrect EventKind = "incorrect" // a protocol violation (first few only)
	EvStorm     EventKind = "storm"     // the packet-storm limit was passed
	// EvUnanswered names a request still pending at the end (first few),
	// so a replica's author can find it in the replica's logs.
	EvUnanswered EventKind = "unanswered"
	EvEnd        EventKind = "end" // the run ended and was judged
)

// Event is one entry of a run's event log. At is the time since the run
// started (JSON: nanoseconds).
type Event struct {
	At      time.Duration `json:"at"`
	Kind    EventKind     `json:"kind"`
	Replica string        `json:"replica,omitempty"`
	Term    string        `json:"term,omitempty"`
	// Groups lists a partition's groups, the majority group first.
	Groups [][]string `json:"groups,omitempty"`
	Detail string     `json:"detail,omitempty"`
	PID    int        `json:"pid,omitempty"`
}

// Caps that keep a misbehaving replica from growing a run's memory or its
// report without bound; the counters in Stats stay exact.
const (
	maxIncorrectEvents  = 20
	maxLeaderEvents     = 5000
	maxUnansweredEvents = 20
	maxLeaderHistory    = 200
)

type actionKind uint8

const (
	actGet actionKind = iota
	actPut
	actEvent
	actEnd
)

// action is one entry of the precomputed schedule.
type action struct {
	at     time.Duration
	kind   actionKind
	client int
	// seed is the request's own random stream, so that its choices (key,
	// value, new or overwrite) do not depend on how many draws replies made.
	seed  uint64
	event ScheduledEvent
}

// send is one datagram to write: data to replica `to` at addr.
type send struct {
	to   int
	addr netip.AddrPort
	data []byte
}

// step collects what one engine call decided; each goroutine owns its own
// step and acts on it after releasing the engine's lock.
type step struct {
	sends  []send
	kills  []int
	events []Event
	// stop asks the run to end now (packet storm).
	stop bool
	buf  []byte
}

func (o *step) reset() {
	o.sends = o.sends[:0]
	o.kills = o.kills[:0]
	o.events = o.events[:0]
	o.stop = false
	o.buf = o.buf[:0]
}

// bucket holds one second of a run, for the timeline.
type bucket struct {
	msgs, dropped, blocked, requests int
	lat                              []time.Duration
}

// engine is the simulator's decision core: routing, drops, partitions,
// kills, clients and counting. It does no I/O and reads no clock: callers
// pass the time, and act on the step it fills. It is not safe for
// concurrent use; the run holds one lock around every call.
type engine struct {
	sc    Scenario
	n     int
	names []string
	// addr is where each replica receives; invalid until its hello.
	addr   []netip.AddrPort
	alive  []bool
	killed []bool
	died   []bool
	// living lists the alive replicas in index order.
	living []int
	// leader is the replica the simulator believes leads; -1 when unknown.
	leader int
	term   string
	// majority is nil without a partition, else marks the majority group.
	majority []bool
	clients  []*client
	st       Stats

	seed     uint64
	rng      *rand.Rand   // reply-driven choices: MIDs, random replicas
	eventRng *rand.Rand   // victims and partition groups
	dropRng  []*rand.Rand // per sending replica: drop decisions

	schedule []action
	ties     Ties
	// over means nothing more is routed (finished or packet storm).
	over     bool
	finished bool

	events           []Event
	leaderEvents     int
	unansweredEvents int
	incorrectShown   int
	buckets          []bucket
}

// Stream identifiers for the seeded generators, so that each stream is
// independent of how much the others were used.
const (
	streamSchedule = 1
	streamReplies  = 2
	streamEvents   = 3
	streamDrops    = 100 // + replica index
)

// Ties orders a request and a scheduled fault due at the same moment.
type Ties uint8

const (
	// FaultFirst applies the fault, then sends the request, under the
	// conditions the fault created (the default; see the docs for why).
	FaultFirst Ties = iota
	// RequestFirst sends the request first, as the original simulator's
	// sorted insertion did: a request due at the instant the leader is
	// killed then goes to the leader and is lost with it.
	RequestFirst
)

func newEngine(sc Scenario, seed uint64) *engine { return newEngineTies(sc, seed, FaultFirst) }

func newEngineTies(sc Scenario, seed uint64, ties Ties) *engine {
	e := &engine{
		ties:     ties,
		sc:       sc,
		n:        sc.Replicas,
		leader:   -1,
		seed:     seed,
		rng:      rand.New(rand.NewPCG(seed, streamReplies)),
		eventRng: rand.New(rand.NewPCG(seed, streamEvents)),
	}
	e.names = make([]string, e.n)
	e.addr = make([]netip.AddrPort, e.n)
	e.alive = make([]bool, e.n)
	e.killed = make([]bool, e.n)
	e.died = make([]bool, e.n)
	e.dropRng = make([]*rand.Rand, e.n)
	for i := range e.n {
		e.names[i] = formatID(uint16(i))
		e.alive[i] = true
		e.living = append(e.living, i)
		e.dropRng[i] = rand.New(rand.NewPCG(seed, streamDrops+uint64(i)))
	}
	for k := range NumClients {
		e.clients = append(e.clients, newClient(formatID(uint16(e.n+clientIDOffset+k))))
	}
	e.st.Leaders = []string{formatID(broadcastID)}
	e.buildSchedule()
	return e
}

// buildSchedule spreads the requests evenly over the lifetime, after the
// start wait, each from a random client and a get with probability mix;
// inserts the scenario's events; and ends with the end of the run.
func (e *engine) buildSchedule() {
	r := rand.New(rand.NewPCG(e.seed, streamSchedule))
	start := seconds(e.sc.StartWait)
	life := seconds(e.sc.Lifetime)
	var reqs []action
	for i := range e.sc.Requests {
		a := action{
			at:     start + time.Duration(float64(life)*float64(i)/float64(e.sc.Requests)),
			kind:   actPut,
			client: r.IntN(NumClients),
			seed:   r.Uint64(),
		}
		if r.Float64() < e.sc.Mix {
			a.kind = actGet
			e.st.GetsGenerated++
		} else {
			e.st.PutsGenerated++
		}
		reqs = append(reqs, a)
	}
	// Merge events in stable time order. At equal times the fault goes
	// first unless e.ties says otherwise (the original's insort placed
	// events after equal entries).
	var evs []action
	for _, ev := range e.sc.Events {
		evs = append(evs, action{at: start + seconds(ev.Time), kind: actEvent, event: ev})
	}
	stableSortByTime(evs)
	i, j := 0, 0
	for i < len(reqs) || j < len(evs) {
		takeReq := j == len(evs)
		if !takeReq && i < len(reqs) {
			r, ev := reqs[i].at, evs[j].at
			takeReq = r < ev || (r == ev && e.ties == RequestFirst)
		}
		if takeReq {
			e.schedule = append(e.schedule, reqs[i])
			i++
		} else {
			e.schedule = append(e.schedule, evs[j])
			j++
		}
	}
	e.schedule = append(e.schedule, action{at: e.sc.Duration(), kind: actEnd})
}

func stableSortByTime(a []action) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j].at < a[j-1].at; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

type nodeKind uint8

const (
	nodeUnknown nodeKind = iota
	nodeReplica
	nodeClient
	nodeBroadcast
)

// classify resolves an ID to a replica index, a client index or broadcast.
// Only canonical (upper-case) spellings name a node, as in the original,
// which compared IDs as strings.
func (e *engine) classify(id nodeID) (nodeKind, int) {
	if !id.canonical {
		return nodeUnknown, -1
	}
	v := int(id.v)
	switch {
	case v == broadcastID:
		return nodeBroadcast, -1
	case v < e.n:
		return nodeReplica, v
	case v >= e.n+clientIDOffset && v < e.n+clientIDOffset+NumClients:
		return nodeClient, v - e.n - clientIDOffset
	}
	return nodeUnknown, -1
}

func (e *engine) replicaIndex(id nodeID) int {
	if k, i := e.classify(id); k == nodeReplica {
		return i
	}
	return -1
}

func (e *engine) bucket(now time.Duration) *bucket {
	i := int(now / time.Second)
	if i < 0 {
		i = 0
	}
	for len(e.buckets) <= i {
		e.buckets = append(e.buckets, bucket{})
	}
	return &e.buckets[i]
}

func (e *engine) note(out *step, ev Event) {
	e.events = append(e.events, ev)
	out.events = append(out.events, ev)
}

func (e *engine) incorrect(out *step, now time.Duration, from int, what string, data []byte) {
	if e.incorrectShown >= maxIncorrectEvents {
		return
	}
	e.incorrectShown++
	const maxShown = 200
	if len(data) > maxShown {
		data = data[:maxShown]
	}
	e.note(out, Event{At: now, Kind: EvIncorrect, Replica: e.names[from], Detail: fmt.Sprintf("%s: %q", what, data)})
}

// hello records where replica `from` receives, learned from its hello.
func (e *engine) hello(from int, addr netip.AddrPort, now time.Duration, out *step) {
	first := !e.addr[from].IsValid()
	e.addr[from] = addr
	if first {
		e.note(out, Event{At: now, Kind: EvHello, Replica: e.names[from]})
	}
}

// datagram handles one datagram read from replica `from`'s socket, sent
// from addr, arriving at now.
func (e *engine) datagram(from int, addr netip.AddrPort, data []byte, now time.Duration, out *step) {
	var m message
	err := decodeMessage(data, &m)
	e.route(from, addr, data, &m, err, now, out)
}

// route is datagram for a message already decoded (decodeErr is
// decodeMessage's verdict), so that the run can decode outside its lock.
func (e *engine) route(from int, addr netip.AddrPort, data []byte, m *message, decodeErr error, now time.Duration, out *step) {
	if e.over || !e.alive[from] {
		return
	}
	if decodeErr != nil {
		e.st.IncorrectMessages++
		e.incorrect(out, now, from, "incorrect message ("+decodeErr.Error()+")", data)
		return
	}
	if m.typ.equals("hello") {
		e.hello(from, addr, now, out)
		return
	}
	e.trackLeader(m, now, out)
	kind, idx := e.classify(m.dst)
	switch kind {
	case nodeReplica:
		if e.count(1, now, out) {
			e.forward(from, m, idx, data, now, out)
		}
	case nodeBroadcast:
		if e.count(e.n-1, now, out) {
			src := e.replicaIndex(m.src)
			for j := range e.n {
				if j != src {
					e.forward(from, m, j, data, now, out)
				}
			}
		}
	case nodeClient:
		e.reply(e.clients[idx], m, data, from, now, out)
	default:
		e.st.IncorrectMessages++
		e.incorrect(out, now, from, "unknown destination", data)
	}
}

// count adds k replica-to-replica messages and reports whether the run goes
// on; passing max_packets is a packet storm, which stops it.
func (e *engine) count(k int, now time.Duration, out *step) bool {
	e.st.TotalMsgs += k
	e.bucket(now).msgs += k
	if e.st.TotalMsgs > e.sc.MaxPackets {
		e.st.PacketStorm = true
		e.over = true
		out.stop = true
		e.note(out, Event{At: now, Kind: EvStorm, Detail: fmt.Sprintf("more than %d replica-to-replica messages", e.sc.MaxPackets)})
		return false
	}
	return true
}

// inMajority reports whether the replica named id is in the majority group
// of the current partition; IDs that name no replica are outside it.
func (e *engine) inMajority(id nodeID) bool {
	i := e.replicaIndex(id)
	return i >= 0 && e.majority[i]
}

// forward delivers one counted message to replica j unless it is dead,
// across the partition, dropped, or has not said hello.
func (e *engine) forward(from int, m *message, j int, data []byte, now time.Duration, out *step) {
	switch {
	case !e.alive[j]:
		e.st.Undeliverable++
	case e.majority != nil && e.inMajority(m.src) != e.majority[j]:
		e.st.Blocked++
		e.bucket(now).blocked++
	case e.sc.Drops > 0 && e.dropRng[from].Float64() < e.sc.Drops:
		e.st.Dropped++
		e.bucket(now).dropped++
	case !e.addr[j].IsValid():
		e.st.Undeliverable++
	default:
		out.sends = append(out.sends, send{to: j, addr: e.addr[j], data: data})
	}
}

// trackLeader learns the leader from the leader field of replica messages;
// during a partition only messages from the majority group count.
func (e *engine) trackLeader(m *message, now time.Duration, out *step) {
	if e.majority != nil && !e.inMajority(m.src) {
		return
	}
	l := e.replicaIndex(m.leader)
	if l != e.leader {
		e.setLeader(l, termText(&m.term), now, out)
		return
	}
	if l >= 0 && m.term.present && e.replicaIndex(m.src) == l && !termEquals(&m.term, e.term) {
		e.term = termText(&m.term)
		if e.leaderEvents < maxLeaderEvents {
			e.leaderEvents++
			e.note(out, Event{At: now, Kind: EvTerm, Replica: e.names[l], Term: e.term})
		}
	}
}

// termEquals reports whether f's term reads as t, without allocating for
// numbers and plain strings.
func termEquals(f *field, t string) bool {
	if f.isStr {
		return f.equals(t)
	}
	return string(f.raw) == t
}

func termText(f *field) string {
	if !f.present {
		return ""
	}
	if f.isStr {
		return f.text()
	}
	return string(f.raw)
}

func (e *engine) leaderName(l int) string {
	if l < 0 {
		return formatID(broadcastID)
	}
	return e.names[l]
}

func (e *engine) setLeader(l int, term string, now time.Duration, out *step) {
	e.leader, e.term = l, term
	e.st.LeaderChanges++
	if len(e.st.Leaders) < maxLeaderHistory {
		e.st.Leaders = append(e.st.Leaders, e.leaderName(l))
	}
	if e.leaderEvents < maxLeaderEvents {
		e.leaderEvents++
		e.note(out, Event{At: now, Kind: EvLeader, Replica: e.leaderName(l), Term: term})
	}
}

// finish ends the run at now: requests still pending are unanswered.
func (e *engine) finish(now time.Duration) Stats {
	if e.finished {
		return e.st
	}
	e.finished = true
	e.over = true
	for _, c := range e.clients {
		mids := make([]string, 0, len(c.pending))
		for mid := range c.pending {
			mids = append(mids, mid)
		}
		sort.Strings(mids)
		for _, mid := range mids {
			r := c.pending[mid]
			op := "put"
			if r.get {
				e.st.UnansweredGets++
				op = "get"
			} else {
				e.st.UnansweredPuts++
			}
			if e.unansweredEvents < maxUnansweredEvents {
				e.unansweredEvents++
				dst := "none"
				if r.dst >= 0 {
					dst = e.names[r.dst]
				}
				e.events = append(e.events, Event{At: r.sentAt, Kind: EvUnanswered, Replica: dst,
					Detail: fmt.Sprintf("%s from %s MID %s key %s, sent at %s", op, c.name, mid, r.key, r.sentAt)})
			}
		}
		e.st.KeysStored += len(c.keys)
	}
	var lat []time.Duration
	for i := range e.buckets {
		lat = append(lat, e.buckets[i].lat...)
	}
	e.st.Latency = summarize(lat)
	e.events = append(e.events, Event{At: now, Kind: EvEnd})
	return e.st
}
