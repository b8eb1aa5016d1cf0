package coursesim

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// testEngine is an engine whose replicas have all said hello.
func testEngine(t *testing.T, sc Scenario) *engine {
	t.Helper()
	if sc.Name == "" {
		sc.Name = "test"
	}
	if sc.Replicas == 0 {
		sc.Replicas = 5
	}
	if sc.Lifetime == 0 {
		sc.Lifetime = 10
	}
	if sc.MaxPackets == 0 {
		sc.MaxPackets = DefaultMaxPackets
	}
	if err := sc.Validate(); err != nil {
		t.Fatal(err)
	}
	e := newEngine(sc, 42)
	var out step
	for i := range e.n {
		e.datagram(i, replicaAddr(i), []byte(fmt.Sprintf(`{"src":"%s","dst":"FFFF","leader":"FFFF","type":"hello"}`, e.names[i])), 0, &out)
	}
	return e
}

func replicaAddr(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(20000+i))
}

// feed delivers one datagram from replica `from` and returns the step.
func feed(e *engine, from int, now time.Duration, data string) *step {
	out := &step{}
	e.datagram(from, replicaAddr(from), []byte(data), now, out)
	return out
}

func feedf(e *engine, from int, now time.Duration, format string, args ...any) *step {
	return feed(e, from, now, fmt.Sprintf(format, args...))
}

func msg(src, dst, leader, typ string) string {
	return fmt.Sprintf(`{"src":"%s","dst":"%s","leader":"%s","type":"%s"}`, src, dst, leader, typ)
}

func destinations(out *step) []int {
	var d []int
	for _, s := range out.sends {
		d = append(d, s.to)
	}
	return d
}

func TestCountingUnicastBroadcastHelloClients(t *testing.T) {
	e := testEngine(t, Scenario{})
	if e.st.TotalMsgs != 0 {
		t.Fatalf("hellos counted: total_msgs = %d", e.st.TotalMsgs)
	}
	out := feed(e, 1, time.Second, msg("0001", "0003", "0001", "append"))
	if got := destinations(out); fmt.Sprint(got) != "[3]" {
		t.Errorf("unicast went to %v, want [3]", got)
	}
	if e.st.TotalMsgs != 1 {
		t.Errorf("unicast: total_msgs = %d, want 1", e.st.TotalMsgs)
	}
	out = feed(e, 1, time.Second, msg("0001", "FFFF", "0001", "append"))
	if got := destinations(out); fmt.Sprint(got) != "[0 2 3 4]" {
		t.Errorf("broadcast went to %v, want every replica but the sender", got)
	}
	if e.st.TotalMsgs != 1+4 {
		t.Errorf("broadcast: total_msgs = %d, want 5 (broadcast counts replicas-1)", e.st.TotalMsgs)
	}
	// A message to a client is not counted (even one the client rejects).
	feed(e, 1, time.Second, `{"src":"0001","dst":"0015","leader":"0001","type":"ok","MID":"NOPE"}`)
	if e.st.TotalMsgs != 5 {
		t.Errorf("message to a client counted: total_msgs = %d", e.st.TotalMsgs)
	}
	// A broadcast counts replicas-1 even when some recipients are dead.
	e.event(ScheduledEvent{Type: KillNonLeader}, 2*time.Second, &step{})
	feed(e, 1, 3*time.Second, msg("0001", "FFFF", "0001", "append"))
	if e.st.TotalMsgs != 9 {
		t.Errorf("broadcast with a dead replica: total_msgs = %d, want 9", e.st.TotalMsgs)
	}
}

func TestDropsAndPartitionsAreCountedButNotDelivered(t *testing.T) {
	e := testEngine(t, Scenario{Drops: 1})
	out := feed(e, 0, time.Second, msg("0000", "FFFF", "0000", "append"))
	if len(out.sends) != 0 || e.st.TotalMsgs != 4 || e.st.Dropped != 4 {
		t.Fatalf("drops=1: sends %v, total %d, dropped %d; want none delivered, 4 counted, 4 dropped", destinations(out), e.st.TotalMsgs, e.st.Dropped)
	}

	e = testEngine(t, Scenario{})
	feed(e, 0, time.Second, msg("0000", "FFFF", "0000", "heartbeat")) // the simulator learns 0000 leads
	e.event(ScheduledEvent{Type: PartEasy}, 2*time.Second, &step{})
	if !e.majority[0] {
		t.Fatalf("easy partition majority %v does not hold the leader 0000", e.majority)
	}
	before := e.st.TotalMsgs
	out = feed(e, 0, 3*time.Second, msg("0000", "FFFF", "0000", "append"))
	for _, j := range destinations(out) {
		if !e.majority[j] {
			t.Errorf("leader's broadcast crossed the partition to %s", e.names[j])
		}
	}
	if len(out.sends) != 2 || e.st.Blocked != 2 || e.st.TotalMsgs-before != 4 {
		t.Errorf("sends %v, blocked %d, counted %d; want 2 delivered in the majority, 2 blocked, 4 counted",
			destinations(out), e.st.Blocked, e.st.TotalMsgs-before)
	}
	// Clients still reach every replica.
	minority := -1
	for i, in := range e.majority {
		if !in {
			minority = i
		}
	}
	c := e.clients[0]
	c.leader = minority
	out = &step{}
	e.send(c, false, "K", "V", 3*time.Second, out)
	if got := destinations(out); fmt.Sprint(got) != fmt.Sprint([]int{minority}) {
		t.Errorf("client request to the minority replica went to %v", got)
	}
	e.event(ScheduledEvent{Type: PartEnd}, 4*time.Second, &step{})
	out = feed(e, 0, 5*time.Second, msg("0000", "FFFF", "0000", "append"))
	if len(out.sends) != 4 {
		t.Errorf("after part_end the broadcast reached %v", destinations(out))
	}
}

func TestHardPartitionExcludesLeaderAndClientsForget(t *testing.T) {
	for seed := range 20 {
		e := testEngine(t, Scenario{})
		e.eventRng = rand.New(rand.NewPCG(uint64(seed), 0))
		feed(e, 2, time.Second, msg("0002", "FFFF", "0002", "heartbeat"))
		e.clients[3].leader = 2
		e.event(ScheduledEvent{Type: PartHard}, 2*time.Second, &step{})
		n := 0
		for _, in := range e.majority {
			if in {
				n++
			}
		}
		if n != 3 || e.majority[2] {
			t.Fatalf("seed %d: hard partition majority %v: want 3 replicas without the leader 0002", seed, e.majority)
		}
		if e.leader != -1 || e.clients[3].leader != -1 {
			t.Fatalf("seed %d: after part_hard simulator leader %d, client leader %d; want both forgotten", seed, e.leader, e.clients[3].leader)
		}
		// Only the majority group's messages teach the simulator the leader.
		feed(e, 2, 3*time.Second, msg("0002", "FFFF", "0002", "heartbeat"))
		if e.leader != -1 {
			t.Fatalf("seed %d: learned the leader from the minority", seed)
		}
		m := -1
		for i, in := range e.majority {
			if in {
				m = i
			}
		}
		feed(e, m, 3*time.Second, msg(e.names[m], "FFFF", e.names[m], "heartbeat"))
		if e.leader != m {
			t.Fatalf("seed %d: leader %d, want %d learned from the majority", seed, e.leader, m)
		}
	}
}

func TestKillLeaderAndNonLeader(t *testing.T) {
	e := testEngine(t, Scenario{})
	out := &step{}
	e.event(ScheduledEvent{Type: KillLeader}, time.Second, out)
	if len(out.kills) != 0 || e.st.Killed != 0 {
		t.Fatalf("kill_leader with no leader known killed %v", out.kills)
	}
	feed(e, 3, 2*time.Second, `{"src":"0003","dst":"0000","leader":"0003","type":"append","term":4}`)
	e.clients[0].leader = 3
	out = &step{}
	e.event(ScheduledEvent{Type: KillLeader}, 3*time.Second, out)
	if fmt.Sprint(out.kills) != "[3]" || e.alive[3] || e.st.Killed != 1 {
		t.Fatalf("kill_leader killed %v, want [3]", out.kills)
	}
	if e.leader != -1 || e.clients[0].leader != -1 {
		t.Errorf("after kill_leader leader %d, client leader %d; want both forgotten", e.leader, e.clients[0].leader)
	}
	// The dead replica's late datagrams are ignored, not counted.
	feed(e, 3, 4*time.Second, msg("0003", "FFFF", "0003", "append"))
	if e.st.TotalMsgs != 1 {
		t.Errorf("a killed replica's message was counted: total_msgs = %d", e.st.TotalMsgs)
	}
	feed(e, 1, 5*time.Second, msg("0001", "FFFF", "0001", "heartbeat"))
	for range 3 {
		out = &step{}
		e.event(ScheduledEvent{Type: KillNonLeader}, 6*time.Second, out)
		if len(out.kills) != 1 || out.kills[0] == 1 || out.kills[0] == 3 {
			t.Fatalf("kill_non_leader killed %v; leader is 0001, 0003 is dead", out.kills)
		}
	}
	out = &step{}
	e.event(ScheduledEvent{Type: KillNonLeader}, 7*time.Second, out)
	if len(out.kills) != 0 {
		t.Errorf("kill_non_leader with only the leader alive killed %v", out.kills)
	}
	if e.st.Died != 0 {
		t.Errorf("killed replicas counted as died")
	}
	e.exited(3, "signal: terminated", 8*time.Second, &step{})
	e.exited(1, "exit status 1", 8*time.Second, &step{})
	if e.st.Died != 1 || !e.died[1] {
		t.Errorf("died = %d, want 1 (0001 exited on its own)", e.st.Died)
	}
}

// sentRequest is a client request as a replica receives it.
type sentRequest struct {
	Src, Dst, Leader, Type, MID, Key, Value string
	to                                      int
}

func requests(t *testing.T, out *step) []sentRequest {
	t.Helper()
	var rs []sentRequest
	for _, s := range out.sends {
		var r sentRequest
		if err := json.Unmarshal(s.data, &r); err != nil {
			t.Fatalf("request %s: %v", s.data, err)
		}
		r.to = s.to
		rs = append(rs, r)
	}
	return rs
}

func onlyRequest(t *testing.T, out *step) sentRequest {
	t.Helper()
	rs := requests(t, out)
	if len(rs) != 1 {
		t.Fatalf("want one request, got %d", len(rs))
	}
	return rs[0]
}

func replyTo(e *engine, r sentRequest, from int, now time.Duration, typ, leader, extra string) *step {
	return feedf(e, from, now, `{"src":"%s","dst":"%s","leader":"%s","type":"%s","MID":"%s"%s}`,
		e.names[from], r.Src, leader, typ, r.MID, extra)
}

func TestClientRetriesDuplicatesAndIncorrectReplies(t *testing.T) {
	e := testEngine(t, Scenario{})
	c := e.clients[2]
	out := &step{}
	e.request(&action{kind: actPut, client: 2, seed: 7}, time.Second, out)
	put := onlyRequest(t, out)
	if put.Src != c.name || put.Type != "put" || put.Leader != "FFFF" || len(put.Key) != keyLen || len(put.Value) != valueLen || len(put.MID) != midLen {
		t.Fatalf("first put %+v", put)
	}
	if e.st.GetGenFailures != 0 {
		t.Errorf("a scheduled put counted as a get generation failure")
	}
	// Redirect: resend at once, fresh MID, to the leader named in the reply.
	out = replyTo(e, put, put.to, time.Second+100*time.Microsecond, "redirect", "0004", "")
	retry := onlyRequest(t, out)
	if retry.to != 4 || retry.Dst != "0004" || retry.Leader != "0004" || retry.MID == put.MID || retry.Key != put.Key || retry.Value != put.Value {
		t.Fatalf("after redirect to 0004, retry %+v", retry)
	}
	// Fail: counted, and retried too.
	out = replyTo(e, retry, 4, time.Second+200*time.Microsecond, "fail", "0004", "")
	retry2 := onlyRequest(t, out)
	if e.st.FailedPuts != 1 || e.st.Redirects != 1 || retry2.to != 4 {
		t.Fatalf("after fail: failed puts %d, redirects %d, retry to %d", e.st.FailedPuts, e.st.Redirects, retry2.to)
	}
	// A reply to the redirected MID is for a MID the client no longer knows.
	replyTo(e, put, 4, time.Second+250*time.Microsecond, "ok", "0004", "")
	if e.st.IncorrectReplies != 1 {
		t.Fatalf("reply to a retired MID: incorrect replies = %d, want 1", e.st.IncorrectReplies)
	}
	out = replyTo(e, retry2, 4, time.Second+300*time.Microsecond, "ok", "0004", "")
	if len(out.sends) != 0 || e.st.OKPuts != 1 || c.acked[put.Key] != put.Value {
		t.Fatalf("ok put: sends %d, ok puts %d, acked %q", len(out.sends), e.st.OKPuts, c.acked[put.Key])
	}
	// A second reply to a completed MID is a duplicate, whatever its type.
	replyTo(e, retry2, 4, time.Second+400*time.Microsecond, "ok", "0004", "")
	replyTo(e, retry2, 4, time.Second+400*time.Microsecond, "redirect", "0004", "")
	if e.st.Duplicates != 2 {
		t.Errorf("duplicates = %d, want 2", e.st.Duplicates)
	}
	// Unknown MID, missing MID, wrong type: incorrect.
	feedf(e, 4, 2*time.Second, `{"src":"0004","dst":"%s","leader":"0004","type":"ok","MID":"UNKNOWN"}`, c.name)
	feedf(e, 4, 2*time.Second, `{"src":"0004","dst":"%s","leader":"0004","type":"ok"}`, c.name)
	feedf(e, 4, 2*time.Second, `{"src":"0004","dst":"%s","leader":"0004","type":"get","MID":"%s"}`, c.name, retry2.MID)
	if e.st.IncorrectReplies != 4 {
		t.Errorf("incorrect replies = %d, want 4", e.st.IncorrectReplies)
	}
	// Latency counts every reply: redirect, fail and ok.
	st := e.finish(3 * time.Second)
	if st.Latency.Count != 3 {
		t.Errorf("latencies counted = %d, want 3 (redirect, fail, ok)", st.Latency.Count)
	}
	if st.Latency.Median != (100 * time.Microsecond).Seconds() {
		t.Errorf("median latency = %v, want 100µs", st.Latency.Median)
	}
}

func TestGetCorrectnessRule(t *testing.T) {
	e := testEngine(t, Scenario{})
	c := e.clients[0]
	// A get with no acknowledged key cannot be generated: it becomes a put.
	out := &step{}
	e.request(&action{kind: actGet, client: 0, seed: 1}, time.Second, out)
	put := onlyRequest(t, out)
	if put.Type != "put" || e.st.GetGenFailures != 1 {
		t.Fatalf("get without keys sent %s, generation failures %d", put.Type, e.st.GetGenFailures)
	}
	replyTo(e, put, put.to, time.Second, "ok", "0000", "")
	getFor := func() sentRequest {
		out := &step{}
		e.request(&action{kind: actGet, client: 0, seed: 2}, 2*time.Second, out)
		g := onlyRequest(t, out)
		if g.Type != "get" || g.Key != put.Key || g.to != 0 {
			t.Fatalf("get %+v: want a get of the acknowledged key to the leader 0000", g)
		}
		return g
	}
	replyTo(e, getFor(), 0, 2*time.Second, "ok", "0000", fmt.Sprintf(`,"value":"%s"`, put.Value))
	if e.st.IncorrectAnswers != 0 || e.st.OKGets != 1 {
		t.Fatalf("correct get counted incorrect")
	}
	// A value the client never saw acknowledged is incorrect, even if it was
	// sent in a put that is still pending.
	out = &step{}
	e.send(c, false, put.Key, "pending-value", 3*time.Second, out)
	replyTo(e, getFor(), 0, 3*time.Second, "ok", "0000", `,"value":"pending-value"`)
	if e.st.IncorrectAnswers != 1 {
		t.Fatalf("get returning an unacknowledged value: incorrect answers = %d, want 1", e.st.IncorrectAnswers)
	}
	// A missing value and the empty string (for a key that was put) are incorrect.
	replyTo(e, getFor(), 0, 3*time.Second, "ok", "0000", "")
	replyTo(e, getFor(), 0, 3*time.Second, "ok", "0000", `,"value":""`)
	if e.st.IncorrectAnswers != 3 {
		t.Fatalf("incorrect answers = %d, want 3", e.st.IncorrectAnswers)
	}
	// Once the put is acknowledged, its value becomes the right answer.
	replyTo(e, onlyRequest(t, out), 0, 4*time.Second, "ok", "0000", "")
	replyTo(e, getFor(), 0, 4*time.Second, "ok", "0000", `,"value":"pending-value"`)
	if e.st.IncorrectAnswers != 3 || e.st.OKGets != 5 {
		t.Fatalf("after the ack: incorrect answers %d, ok gets %d", e.st.IncorrectAnswers, e.st.OKGets)
	}
}

func TestIncorrectMessagesAndUnknownDestination(t *testing.T) {
	e := testEngine(t, Scenario{})
	for _, bad := range []string{
		`not json`,
		`{"src":"0001","dst":"0002","type":"x"}`,
		`{"src":"0001","dst":"002","leader":"0001","type":"x"}`,
		msg("0001", "0009", "0001", "x"), // 5 replicas, 0009 names nobody
		msg("0001", "0002", "0001", "x"), // the one valid message
		msg("0001", "000b", "0001", "x"), // lower-case: names nobody
	} {
		feed(e, 1, time.Second, bad)
	}
	if e.st.IncorrectMessages != 5 {
		t.Errorf("incorrect messages = %d, want 5", e.st.IncorrectMessages)
	}
	if e.st.TotalMsgs != 1 {
		t.Errorf("total_msgs = %d, want 1 (only the valid unicast)", e.st.TotalMsgs)
	}
}

func TestPacketStormStopsTheRun(t *testing.T) {
	e := testEngine(t, Scenario{MaxPackets: 10})
	var out *step
	for range 3 {
		out = feed(e, 0, time.Second, msg("0000", "FFFF", "0000", "x"))
	}
	if !out.stop || !e.st.PacketStorm || len(out.sends) != 0 {
		t.Fatalf("12 messages with max_packets 10: stop %v, storm %v, sends %d", out.stop, e.st.PacketStorm, len(out.sends))
	}
	out = feed(e, 0, time.Second, msg("0000", "0001", "0000", "x"))
	if len(out.sends) != 0 || e.st.TotalMsgs != 12 {
		t.Errorf("routing went on after the storm")
	}
}

func TestUnansweredAtFinish(t *testing.T) {
	e := testEngine(t, Scenario{})
	out := &step{}
	e.request(&action{kind: actPut, client: 0, seed: 1}, time.Second, out)
	e.request(&action{kind: actPut, client: 1, seed: 2}, time.Second, out)
	rs := requests(t, out)
	replyTo(e, rs[0], rs[0].to, time.Second, "ok", "0000", "")
	out = &step{}
	e.request(&action{kind: actGet, client: 0, seed: 3}, 2*time.Second, out)
	st := e.finish(3 * time.Second)
	if st.UnansweredPuts != 1 || st.UnansweredGets != 1 || st.Failures() != 2 || st.KeysStored != 1 {
		t.Errorf("unanswered puts %d gets %d failures %d keys %d; want 1 1 2 1", st.UnansweredPuts, st.UnansweredGets, st.Failures(), st.KeysStored)
	}
}

func TestNoHelloNoDelivery(t *testing.T) {
	sc := Scenario{Name: "t", Replicas: 3, Lifetime: 1, MaxPackets: 100}
	e := newEngine(sc, 1)
	out := &step{}
	e.datagram(0, replicaAddr(0), []byte(msg("0000", "0001", "0000", "x")), time.Second, out)
	if len(out.sends) != 0 || e.st.TotalMsgs != 1 || e.st.Undeliverable != 1 {
		t.Errorf("to a replica without hello: sends %d, counted %d, undeliverable %d", len(out.sends), e.st.TotalMsgs, e.st.Undeliverable)
	}
	e.request(&action{kind: actPut, client: 0, seed: 1}, time.Second, out)
	if len(out.sends) != 0 || e.st.ClientUnsent != 1 {
		t.Errorf("client request to a silent replica was sent")
	}
}

func TestScheduleIsSeededAndEven(t *testing.T) {
	sc := Scenario{Name: "s", Replicas: 5, Requests: 500, Lifetime: 30, StartWait: 5, EndWait: 2, Mix: 0.8, MaxPackets: 1,
		Events: []ScheduledEvent{{Type: KillLeader, Time: 8}, {Type: PartEnd, Time: 0}}}
	a, b := newEngine(sc, 99), newEngine(sc, 99)
	if fmt.Sprint(a.schedule) != fmt.Sprint(b.schedule) {
		t.Fatal("same seed, different schedules")
	}
	if c := newEngine(sc, 100); fmt.Sprint(a.schedule) == fmt.Sprint(c.schedule) {
		t.Fatal("different seeds, same schedule")
	}
	var reqs []action
	for i, x := range a.schedule {
		if i > 0 && x.at < a.schedule[i-1].at {
			t.Fatalf("schedule not in time order at %d", i)
		}
		if x.kind == actGet || x.kind == actPut {
			reqs = append(reqs, x)
		}
	}
	if len(reqs) != 500 || reqs[0].at != 5*time.Second || reqs[499].at != 5*time.Second+499*60*time.Millisecond {
		t.Fatalf("requests: %d from %v to %v; want 500 every 60ms from 5s", len(reqs), reqs[0].at, reqs[len(reqs)-1].at)
	}
	if a.st.GetsGenerated+a.st.PutsGenerated != 500 || a.st.GetsGenerated < 350 || a.st.GetsGenerated > 450 {
		t.Errorf("gets generated %d of 500 with mix 0.8", a.st.GetsGenerated)
	}
	last := a.schedule[len(a.schedule)-1]
	if last.kind != actEnd || last.at != 37*time.Second {
		t.Errorf("run ends at %v, want 37s", last.at)
	}
	// An event at 0 s runs when the start wait ends, before the request due
	// at the same moment; with RequestFirst ties, after it.
	if a.schedule[0].kind != actEvent || a.schedule[0].at != 5*time.Second || a.schedule[1].kind == actEvent {
		t.Errorf("schedule starts %+v, %+v; want the event at 5s, then the first request", a.schedule[0], a.schedule[1])
	}
	o := newEngineTies(sc, 99, RequestFirst)
	if o.schedule[0].kind == actEvent || o.schedule[1].kind != actEvent || o.schedule[1].at != 5*time.Second {
		t.Errorf("request-first schedule starts %+v, %+v; want the first request, then the event at 5s", o.schedule[0], o.schedule[1])
	}
}

func TestRequestChoicesFollowTheSeed(t *testing.T) {
	var keys []string
	for range 2 {
		e := testEngine(t, Scenario{})
		out := &step{}
		e.request(&action{kind: actPut, client: 0, seed: 5}, time.Second, out)
		r := onlyRequest(t, out)
		keys = append(keys, r.Key+"="+r.Value)
		if strings.Trim(r.Key, keyAlphabet) != "" || strings.Trim(r.Value, hexAlphabet) != "" {
			t.Errorf("key %q or value %q outside their alphabets", r.Key, r.Value)
		}
	}
	if keys[0] != keys[1] {
		t.Errorf("same request seed, different choices: %v", keys)
	}
}
