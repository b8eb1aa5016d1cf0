package coursesim

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// buildFake compiles testdata/fakereplica into dir and returns a function
// giving the path of the fake in a misbehaving mode ("" for a correct one):
// the fake reads its mode from the name it was started under.
func buildFake(t *testing.T, dir string) func(mode string) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH: cannot build the fake replica")
	}
	bin := filepath.Join(dir, "fakereplica")
	cmd := exec.Command(gobin, "build", "-o", bin, "./testdata/fakereplica")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build fake replica: %v\n%s", err, out)
	}
	return func(mode string) string {
		if mode == "" {
			return bin
		}
		link := bin + "-" + mode
		if err := os.Symlink(bin, link); err != nil && !errors.Is(err, os.ErrExist) {
			t.Fatal(err)
		}
		return link
	}
}

func shortScenario() Scenario {
	return Scenario{
		Name: "short", Replicas: 5, Requests: 200, Lifetime: 3, StartWait: 1, EndWait: 1,
		Mix: 0.2, MaxPackets: DefaultMaxPackets,
		Events: []ScheduledEvent{{Type: PartEasy, Time: 0.5}, {Type: PartEnd, Time: 1.2}, {Type: KillNonLeader, Time: 2}},
		Thresholds: &Thresholds{
			TotalMsgs: [3]float64{1200, 3000, 5000}, Failures: [3]float64{0, 1, 2},
			Duplicates: [3]float64{0, 2, 5}, MedianLatency: [3]float64{0.0004, 0.002, 0.05},
		},
	}
}

// tinyScenario is for runs that only need to show one check failing. The
// end wait leaves room for replies delayed on a busy machine.
func tinyScenario(name string) Scenario {
	return Scenario{Name: name, Replicas: 5, Requests: 60, Lifetime: 1.5, StartWait: 0.5, EndWait: 1, Mix: 0.5, MaxPackets: DefaultMaxPackets}
}

// assertGone checks that none of the run's processes is left: no live
// process is in one of their process groups, and none of those PIDs still
// runs the replica program. Reading /proc avoids a false alarm when the
// kernel has already given a PID to some unrelated process.
func assertGone(t *testing.T, pids []int, program string) {
	t.Helper()
	groups := map[int]bool{}
	for _, pid := range pids {
		groups[pid] = true
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("cannot list processes: %v", err)
	}
	want, err := filepath.EvalSymlinks(program)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range procs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue // it exited meanwhile
		}
		// Fields after the command name, which is in parentheses: state, ppid, pgrp.
		rest := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(rest) < 3 || rest[0] == "Z" {
			continue
		}
		pgrp, _ := strconv.Atoi(rest[2])
		exe, _ := os.Readlink(filepath.Join("/proc", d.Name(), "exe"))
		if groups[pgrp] && (exe == want || groups[pid]) {
			t.Errorf("process %d (%s) of replica group %d is still alive after the run", pid, exe, pgrp)
		}
	}
}

func pidsOf(res *Result) []int {
	var pids []int
	for _, r := range res.Replicas {
		pids = append(pids, r.PID)
	}
	return pids
}

func TestRunWithFakeReplica(t *testing.T) {
	fake := buildFake(t, t.TempDir())
	const seed = 20240611
	run := func(t *testing.T, sc Scenario, mode string) *Result {
		t.Helper()
		res, err := Run(context.Background(), sc, Options{ReplicaPath: fake(mode), Seed: seed})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		assertGone(t, pidsOf(res), fake(mode))
		return res
	}

	t.Run("correct replica passes", func(t *testing.T) {
		t.Parallel()
		sc := shortScenario()
		res := run(t, sc, "")
		st := &res.Stats
		t.Logf("seed %d: %+v", seed, st)
		if !res.Verdict.Correct {
			t.Fatalf("seed %d: correct fake failed: %v", seed, res.Verdict.Reasons)
		}
		if st.GetsGenerated+st.PutsGenerated != sc.Requests || st.OKGets+st.OKPuts != sc.Requests-st.UnansweredGets-st.UnansweredPuts {
			t.Errorf("requests: generated %d+%d, ok %d+%d", st.GetsGenerated, st.PutsGenerated, st.OKGets, st.OKPuts)
		}
		if st.UnansweredGets+st.UnansweredPuts+st.FailedGets+st.FailedPuts+st.Duplicates+st.Died != 0 {
			t.Errorf("a correct replica without faults left failures: %+v", st)
		}
		// The fake leader broadcasts each put once: 4 messages per put.
		if st.TotalMsgs != 4*st.OKPuts {
			t.Errorf("total_msgs %d, want 4 x %d acknowledged puts", st.TotalMsgs, st.OKPuts)
		}
		if st.Killed != 1 || st.Blocked == 0 || st.Redirects == 0 {
			t.Errorf("killed %d, blocked %d, redirects %d: want 1 kill, some broadcasts blocked by the partition, some redirects", st.Killed, st.Blocked, st.Redirects)
		}
		for _, r := range res.Replicas {
			if !r.Hello {
				t.Errorf("replica %s never said hello", r.ID)
			}
			if r.Killed && r.ID == "0000" {
				t.Errorf("kill_non_leader killed the leader 0000")
			}
		}
		if st.Latency.Count != st.OKGets+st.OKPuts+st.Redirects || st.Latency.Median <= 0 || st.Latency.Median > 0.05 {
			t.Errorf("latency %+v", st.Latency)
		}
		if len(st.Leaders) < 2 || st.Leaders[len(st.Leaders)-1] != "0000" {
			t.Errorf("leaders %v, want ending with 0000", st.Leaders)
		}
		if res.Forwarding.Datagrams == 0 {
			t.Errorf("no forwarding measured")
		}
		var html bytes.Buffer
		if err := WriteHTML(&html, res); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(html.String(), "t1") {
			t.Errorf("the timeline does not show the fake's term 1")
		}
	})

	t.Run("wrong answers fail", func(t *testing.T) {
		t.Parallel()
		res := run(t, tinyScenario("wrong"), "wrong")
		if res.Verdict.Correct || res.Stats.IncorrectAnswers == 0 {
			t.Fatalf("seed %d: a replica answering gets wrongly passed: %+v", seed, res.Stats)
		}
	})

	t.Run("a replica that dies fails", func(t *testing.T) {
		t.Parallel()
		res := run(t, tinyScenario("die"), "die")
		if res.Verdict.Correct || res.Stats.Died != 1 || !res.Replicas[2].Died || res.Replicas[2].Killed {
			t.Fatalf("seed %d: died %d, replicas %+v, verdict %v", seed, res.Stats.Died, res.Replicas, res.Verdict)
		}
	})

	t.Run("duplicates are counted", func(t *testing.T) {
		t.Parallel()
		res := run(t, tinyScenario("dup"), "dup")
		if res.Stats.Duplicates == 0 || res.Stats.Duplicates != res.Stats.OKPuts {
			t.Fatalf("seed %d: duplicates %d, ok puts %d: every put is answered twice", seed, res.Stats.Duplicates, res.Stats.OKPuts)
		}
	})

	t.Run("a packet storm stops the run", func(t *testing.T) {
		t.Parallel()
		sc := tinyScenario("storm")
		sc.MaxPackets = 2000
		res := run(t, sc, "storm")
		if !res.Stats.PacketStorm || res.Verdict.Correct || res.Elapsed >= sc.Duration() {
			t.Fatalf("seed %d: storm %v, correct %v, elapsed %v of %v", seed, res.Stats.PacketStorm, res.Verdict.Correct, res.Elapsed, sc.Duration())
		}
	})
}

// TestRunCancelLeavesNoProcess interrupts a run once every replica has said
// hello and checks that Run returns promptly with every process gone.
func TestRunCancelLeavesNoProcess(t *testing.T) {
	fake := buildFake(t, t.TempDir())
	sc := tinyScenario("cancel")
	sc.Lifetime = 60
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var pids []int
	hellos := 0
	opts := Options{ReplicaPath: fake(""), Seed: 1, Observer: func(ev Event) {
		mu.Lock()
		defer mu.Unlock()
		switch ev.Kind {
		case EvStart:
			pids = append(pids, ev.PID)
		case EvHello:
			if hellos++; hellos == sc.Replicas {
				cancel()
			}
		}
	}}
	start := time.Now()
	_, err := Run(ctx, sc, opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Run took %v to return after cancel", d)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(pids) != sc.Replicas {
		t.Fatalf("%d processes started, want %d", len(pids), sc.Replicas)
	}
	assertGone(t, pids, opts.ReplicaPath)
}

func TestRunMissingReplica(t *testing.T) {
	_, err := Run(context.Background(), tinyScenario("missing"), Options{ReplicaPath: filepath.Join(t.TempDir(), "nope")})
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("Run with a missing replica = %v", err)
	}
}

// TestRunPanicLeavesNoProcess makes the observer panic, once on a reader
// goroutine (the first hello) and once on Run's own goroutine (a process
// start), and checks that every replica process is gone either way.
func TestRunPanicLeavesNoProcess(t *testing.T) {
	fake := buildFake(t, t.TempDir())
	for _, on := range []EventKind{EvHello, EvStart} {
		t.Run(string(on), func(t *testing.T) {
			var mu sync.Mutex
			var pids []int
			starts := 0
			opts := Options{ReplicaPath: fake(""), Seed: 1, Observer: func(ev Event) {
				mu.Lock()
				defer mu.Unlock()
				if ev.Kind == EvStart {
					pids = append(pids, ev.PID)
					starts++
				}
				if ev.Kind == on && (on != EvStart || starts == 3) {
					panic("observer failure")
				}
			}}
			var err error
			func() {
				defer func() {
					if v := recover(); v != nil {
						err = errors.New("panicked")
					}
				}()
				_, err = Run(context.Background(), tinyScenario("panic"), opts)
			}()
			if err == nil {
				t.Fatal("Run succeeded although the observer panicked")
			}
			mu.Lock()
			defer mu.Unlock()
			if len(pids) == 0 {
				t.Fatal("no process was started")
			}
			assertGone(t, pids, opts.ReplicaPath)
		})
	}
}
