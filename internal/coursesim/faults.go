package coursesim

import (
	"fmt"
	"time"
)

// event applies one scheduled fault.
func (e *engine) event(ev ScheduledEvent, now time.Duration, out *step) {
	if e.over {
		return
	}
	skip := func(why string) {
		e.note(out, Event{At: now, Kind: EvSkipped, Detail: fmt.Sprintf("%s at %gs: %s", ev.Type, ev.Time, why)})
	}
	switch ev.Type {
	case KillLeader:
		l := e.leader
		if l < 0 {
			skip("no leader known")
			return
		}
		if e.alive[l] {
			e.kill(l, string(ev.Type), now, out)
		} else {
			skip("believed leader " + e.names[l] + " is already dead")
		}
		e.setLeader(-1, "", now, out)
		e.forgetLeader()
	case KillNonLeader:
		var cands []int
		for _, i := range e.living {
			if i != e.leader {
				cands = append(cands, i)
			}
		}
		if len(cands) == 0 {
			skip("no living replica other than the leader")
			return
		}
		e.kill(cands[e.eventRng.IntN(len(cands))], string(ev.Type), now, out)
	case PartEasy, PartHard:
		e.partition(ev.Type == PartEasy, now, out)
	case PartEnd:
		if e.majority != nil {
			e.majority = nil
			e.note(out, Event{At: now, Kind: EvHeal})
		}
	}
}

func (e *engine) forgetLeader() {
	for _, c := range e.clients {
		c.leader = -1
	}
}

func (e *engine) kill(i int, why string, now time.Duration, out *step) {
	e.alive[i] = false
	e.killed[i] = true
	e.st.Killed++
	e.removeLiving(i)
	out.kills = append(out.kills, i)
	e.note(out, Event{At: now, Kind: EvKill, Replica: e.names[i], Detail: why})
}

func (e *engine) removeLiving(i int) {
	for k, v := range e.living {
		if v == i {
			e.living = append(e.living[:k], e.living[k+1:]...)
			return
		}
	}
}

// partition splits the replicas (dead ones included, as in the original)
// into a majority group of replicas/2+1 and the rest. An easy partition
// puts the believed leader in the majority; a hard one keeps it out. When
// no leader is known, or the partition is hard, the majority is random and
// everyone forgets the leader.
func (e *engine) partition(easy bool, now time.Duration, out *step) {
	q := e.n/2 + 1
	maj := make([]bool, e.n)
	var cands []int // every replica but the believed leader
	for i := range e.n {
		if i != e.leader {
			cands = append(cands, i)
		}
	}
	if easy && e.leader >= 0 {
		maj[e.leader] = true
		q--
	} else {
		if e.leader >= 0 {
			e.setLeader(-1, "", now, out)
		}
		e.forgetLeader()
	}
	for k := range q {
		p := k + e.eventRng.IntN(len(cands)-k)
		cands[k], cands[p] = cands[p], cands[k]
		maj[cands[k]] = true
	}
	e.majority = maj
	var in, rest []string
	for i := range e.n {
		if maj[i] {
			in = append(in, e.names[i])
		} else {
			rest = append(rest, e.names[i])
		}
	}
	kind := "hard"
	if easy {
		kind = "easy"
	}
	e.note(out, Event{At: now, Kind: EvPartition, Groups: [][]string{in, rest}, Detail: kind})
}

// exited records that replica i's process ended; unless the simulator
// killed it or the run is over, it died on its own.
func (e *engine) exited(i int, status string, now time.Duration, out *step) {
	if e.over || e.killed[i] || e.died[i] {
		return
	}
	e.died[i] = true
	e.alive[i] = false
	e.st.Died++
	e.removeLiving(i)
	e.note(out, Event{At: now, Kind: EvDied, Replica: e.names[i], Detail: status})
}
