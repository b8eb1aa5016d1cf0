package sim

import (
	"flag"
	"fmt"
	"runtime"
	"sync"
	"testing"
)

var (
	flagSeeds    = flag.Int("seeds", 0, "number of random seeds to run (default: 200, or 2000 with -sweep)")
	flagFirst    = flag.Int64("first-seed", 1, "first seed of the sweep")
	flagArtifact = flag.String("artifacts", "", "directory for traces of failing seeds")
	flagNodes    = flag.Int("nodes", 0, "cluster size for every seed (default: each seed picks 3, 5 or 7)")
)

// TestRandomSeeds runs the mixed-fault simulation over many seeds. Every
// failure prints its seed and the command that replays it.
func TestRandomSeeds(t *testing.T) {
	n := *flagSeeds
	if n == 0 {
		n = 200
		if testing.Short() {
			n = 20
		}
	}
	workers := runtime.GOMAXPROCS(0)
	seeds := make(chan int64)
	var mu sync.Mutex
	var failed []Report
	ops, msgs := 0, 0
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range seeds {
				rep := RunSeed(s, Profile{Nodes: *flagNodes})
				mu.Lock()
				ops += rep.Stats.Completed
				msgs += rep.Msgs
				if rep.Err != nil {
					failed = append(failed, rep)
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < n; i++ {
		seeds <- *flagFirst + int64(i)
	}
	close(seeds)
	wg.Wait()
	t.Logf("%d seeds from %d, %d client operations completed, %d peer messages", n, *flagFirst, ops, msgs)
	for _, rep := range failed {
		msg := fmt.Sprintf("seed %d FAILED: %v\n  config: %s\n  replay: %s", rep.Seed, rep.Err, rep.Config, ReplayCommand(rep.Seed, Profile{Nodes: *flagNodes}))
		if *flagArtifact != "" {
			again := RunSeed(rep.Seed, Profile{Nodes: *flagNodes, Trace: true})
			if files, err := again.WriteArtifacts(*flagArtifact); err == nil {
				msg += fmt.Sprintf("\n  artifacts: %v", files)
			}
		}
		t.Error(msg)
	}
}
