package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftkv/raftkv/internal/sim"
)

const dsimSynopsis = "raftkv dsim [--seeds N] [--first-seed S] [--parallel K] [--out DIR] | raftkv dsim --seed S [--out DIR]"

const dsimAbout = `Runs the deterministic simulation of whole raftkv clusters: each seed picks
a cluster (3, 5 or 7 nodes), a replication mode and a fault mix (message loss,
duplication and reordering; symmetric, asymmetric and bridge partitions;
crashes of one node, a majority or all, with or without losing unsynced
writes; pauses; leadership transfers), runs clients against it on virtual
time while checking every safety invariant after every event, then heals
everything and demands that every request be answered and every node
converge within 20 virtual seconds, and finally checks the client history
for linearizability with porcupine.

With --seeds it sweeps many seeds and reports every violation with the
command that replays it. With --seed it runs one seed and writes its trace
and porcupine's HTML visualisation into --out. Exit status: 0 if no seed
failed, 1 otherwise, 2 on bad usage.`

func runDsim(ctx context.Context, std stdio, args []string) int {
	fs := newFlagSet(std, "dsim", dsimSynopsis, dsimAbout)
	seeds := fs.Int("seeds", 1000, "how many seeds to run")
	first := fs.Int64("first-seed", 1, "first seed of the sweep")
	one := fs.Int64("seed", 0, "run only this seed, with its trace (0: sweep)")
	parallel := fs.Int("parallel", runtime.GOMAXPROCS(0), "seeds to run at once")
	out := fs.String("out", "", "write traces and visualisations of failing seeds into `DIR`")
	nodes := fs.Int("nodes", 0, "cluster size for every seed (0: each seed picks 3, 5 or 7)")
	stress := fs.Bool("stress", false, "use the stress profile (no pre-vote or CheckQuorum, one entry per message, frequent crashes)")
	format := fs.String("o", "text", "output `format`: text or json")
	if _, code, ok := parseArgs(fs, args); !ok {
		return code
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(std.err, "raftkv dsim: -o must be text or json\n")
		return exitUsage
	}
	profile := sim.Profile{Stress: *stress, Nodes: *nodes}
	if *one != 0 {
		return dsimOne(std, *one, profile, *out, *format)
	}
	if *seeds <= 0 || *parallel <= 0 {
		fmt.Fprintf(std.err, "raftkv dsim: --seeds and --parallel must be positive\n")
		return exitUsage
	}
	return dsimSweep(ctx, std, *first, *seeds, *parallel, profile, *out, *format)
}

type dsimSummary struct {
	Seeds     int           `json:"seeds"`
	FirstSeed int64         `json:"first_seed"`
	Failed    []dsimFailure `json:"failed"`
	Ops       int           `json:"client_operations"`
	Messages  int           `json:"peer_messages"`
	Elapsed   float64       `json:"elapsed_seconds"`
}

type dsimFailure struct {
	Seed      int64    `json:"seed"`
	Error     string   `json:"error"`
	Config    string   `json:"config"`
	Replay    string   `json:"replay"`
	Artifacts []string `json:"artifacts,omitempty"`
}

func dsimSweep(ctx context.Context, std stdio, first int64, n, parallel int, p sim.Profile, out, format string) int {
	start := time.Now()
	sum := dsimSummary{Seeds: n, FirstSeed: first}
	var mu sync.Mutex
	var done atomic.Int64
	jobs := make(chan int64)
	var wg sync.WaitGroup
	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range jobs {
				rep := sim.RunSeed(s, p)
				mu.Lock()
				sum.Ops += rep.Stats.Completed
				sum.Messages += rep.Msgs
				if rep.Err != nil {
					f := dsimFailure{Seed: s, Error: rep.Err.Error(), Config: rep.Config, Replay: sim.ReplayCommand(s, p)}
					if out != "" {
						traced := sim.RunSeed(s, sim.Profile{Stress: p.Stress, Nodes: p.Nodes, Trace: true})
						f.Artifacts, _ = traced.WriteArtifacts(out)
					}
					sum.Failed = append(sum.Failed, f)
					if format == "text" {
						fmt.Fprintf(std.out, "seed %d FAILED: %s\n  config: %s\n  replay: %s\n", s, f.Error, f.Config, f.Replay)
					}
				}
				mu.Unlock()
				done.Add(1)
			}
		}()
	}
	// Progress on stderr once a second, so a long sweep shows it is alive.
	stop := make(chan struct{})
	var pwg sync.WaitGroup
	pwg.Add(1)
	go func() {
		defer pwg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				d := done.Load()
				mu.Lock()
				failed := len(sum.Failed)
				mu.Unlock()
				el := time.Since(start).Seconds()
				fmt.Fprintf(std.err, "\r%d/%d seeds, %d failed, %.0f seeds/s ", d, n, failed, float64(d)/el)
			}
		}
	}()
feed:
	for i := 0; i < n; i++ {
		select {
		case <-ctx.Done():
			break feed
		case jobs <- first + int64(i):
		}
	}
	close(jobs)
	wg.Wait()
	close(stop)
	pwg.Wait()
	fmt.Fprintln(std.err)
	sum.Elapsed = time.Since(start).Seconds()
	sum.Seeds = int(done.Load())
	if format == "json" {
		enc := json.NewEncoder(std.out)
		enc.SetIndent("", "  ")
		_ = enc.Encode(sum)
	} else {
		fmt.Fprintf(std.out, "%d seeds from %d: %d failed; %d client operations, %d peer messages; %.1fs (%.0f seeds/s)\n",
			sum.Seeds, first, len(sum.Failed), sum.Ops, sum.Messages, sum.Elapsed, float64(sum.Seeds)/sum.Elapsed)
	}
	switch {
	case ctx.Err() != nil:
		return exitInterrupted
	case len(sum.Failed) > 0:
		return exitFailed
	}
	return exitOK
}

func dsimOne(std stdio, seed int64, p sim.Profile, out, format string) int {
	p.Trace = true
	rep := sim.RunSeed(seed, p)
	if out == "" {
		out = "out/dsim"
	}
	files, err := rep.WriteArtifacts(out)
	if err != nil {
		fmt.Fprintf(std.err, "raftkv dsim: %v\n", err)
	}
	res := map[string]any{"seed": seed, "config": rep.Config, "ok": rep.Err == nil,
		"client_operations": rep.Stats.Completed, "peer_messages": rep.Msgs, "virtual_seconds": time.Duration(rep.Virtual).Seconds(),
		"artifacts": files}
	if rep.Err != nil {
		res["error"] = rep.Err.Error()
	}
	if format == "json" {
		enc := json.NewEncoder(std.out)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
	} else {
		status := "ok"
		if rep.Err != nil {
			status = "FAILED: " + rep.Err.Error()
		}
		fmt.Fprintf(std.out, "seed %d: %s\n  config: %s\n  %d client operations, %d peer messages, %.1f virtual seconds\n  artifacts: %v\n",
			seed, status, rep.Config, rep.Stats.Completed, rep.Msgs, time.Duration(rep.Virtual).Seconds(), files)
	}
	if rep.Err != nil {
		return exitFailed
	}
	return exitOK
}
