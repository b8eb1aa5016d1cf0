package coursesim

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// The spec's table of standard scenarios, row by row.
var standardTable = map[string]string{
	"simple-1":     "500 0.8 0 [] [1200 3000 5000] [0 1 2] [0 2 5] [0.0004 0.002 0.05] 2",
	"simple-2":     "500 0.2 0 [] [2200 4000 5000] [0 1 2] [0 2 5] [0.001 0.005 0.05] 2",
	"unreliable-1": "500 0.2 0.05 [] [2200 4500 5500] [0 1 2] [0 2 5] [0.001 0.005 0.05] 2",
	"unreliable-2": "500 0.2 0.1 [] [2300 4500 6000] [0 1 2] [0 2 5] [0.001 0.005 0.05] 2",
	"unreliable-3": "500 0.2 0.15 [] [2300 4500 6000] [0 1 5] [0 3 6] [0.001 0.005 0.05] 2",
	"crash-1":      "500 0.2 0 [kill_non_leader@15] [2500 4000 5000] [0 1 5] [0 2 5] [0.001 0.005 0.05] 2",
	"crash-2":      "500 0.2 0 [kill_non_leader@10 kill_non_leader@20] [2500 4000 5000] [0 1 5] [0 2 5] [0.001 0.005 0.05] 2",
	"crash-3":      "400 0.2 0 [kill_leader@10] [2000 4000 5000] [0 2 5] [0 2 10] [0.0002 0.005 0.05] 2",
	"crash-4":      "300 0.2 0 [kill_leader@8 kill_leader@16] [1800 4000 5000] [1 4 10] [0 2 10] [0.00015 0.005 0.05] 2",
	"partition-1":  "400 0.2 0 [part_easy@5 part_end@10] [2200 4000 5000] [0 1 5] [0 2 5] [0.0002 0.005 0.05] 2",
	"partition-2":  "300 0.2 0 [part_easy@5 part_end@10 part_easy@18 part_end@23] [1800 4000 5000] [0 1 5] [0 2 5] [0.0002 0.005 0.05] 2",
	"partition-3":  "400 0.2 0 [part_hard@5 part_end@10] [2200 4000 5000] [0 10 30] [0 2 5] [0.00025 0.005 0.05] 2",
	"partition-4":  "300 0.2 0 [part_hard@5 part_end@10 part_hard@18 part_end@23] [1800 4000 5000] [0 20 60] [0 2 5] [0.00025 0.005 0.05] 2",
	"advanced-1":   "250 0.2 0.1 [part_hard@5 part_end@8 part_hard@12 part_end@15 kill_leader@20] [1000 3000 4000] [1 10 100] [0 3 6] [0.00015 0.005 0.05] 2",
	"advanced-2":   "300 0.2 0.15 [kill_leader@8 kill_leader@16] [1000 3000 4000] [1 10 100] [0 5 10] [0.00015 0.005 0.05] 5",
	"advanced-3":   "200 0.2 0.3 [kill_leader@5] [1000 3000 4000] [1 10 100] [0 6 20] [0.0002 0.005 0.1] 10",
	"advanced-4":   "300 0.2 0.1 [part_hard@5 part_end@8 part_hard@12 part_end@15 part_hard@19 part_end@21 kill_leader@25] [1000 4000 5000] [1 10 100] [0 6 10] [0.0002 0.005 0.1] 5",
}

func describe(sc *Scenario) string {
	var evs []string
	for _, e := range sc.Events {
		evs = append(evs, fmt.Sprintf("%s@%g", e.Type, e.Time))
	}
	th := sc.Thresholds
	f := func(a [3]float64) string { return fmt.Sprintf("[%g %g %g]", a[0], a[1], a[2]) }
	return fmt.Sprintf("%d %g %g [%s] %s %s %s %s %g", sc.Requests, sc.Mix, sc.Drops, strings.Join(evs, " "),
		f(th.TotalMsgs), f(th.Failures), f(th.Duplicates), f(th.MedianLatency), sc.EndWait)
}

func TestStandardScenariosMatchTheSpec(t *testing.T) {
	scs, err := LoadDir(filepath.Join("..", "..", "scenarios"))
	if err != nil {
		t.Fatal(err)
	}
	if len(scs) != len(standardTable) {
		t.Errorf("%d scenario files in scenarios/, want the %d standard ones", len(scs), len(standardTable))
	}
	for _, sc := range scs {
		want, ok := standardTable[sc.Name]
		if !ok {
			t.Errorf("scenarios/%s.json is not a standard scenario", sc.Name)
			continue
		}
		if sc.Thresholds == nil {
			t.Errorf("%s has no thresholds", sc.Name)
			continue
		}
		if sc.Replicas != 5 || sc.Lifetime != 30 || sc.StartWait != 5 || sc.MaxPackets != DefaultMaxPackets {
			t.Errorf("%s: replicas %d lifetime %g start_wait %g max_packets %d; want 5, 30, 5, 20000",
				sc.Name, sc.Replicas, sc.Lifetime, sc.StartWait, sc.MaxPackets)
		}
		if got := describe(&sc); got != want {
			t.Errorf("%s:\n got  %s\n want %s", sc.Name, got, want)
		}
	}
}

func TestExtraScenariosLoad(t *testing.T) {
	scs, err := LoadDir(filepath.Join("..", "..", "scenarios", "extra"))
	if err != nil {
		t.Fatal(err)
	}
	if len(scs) < 8 {
		t.Errorf("%d extra scenarios, want at least 8", len(scs))
	}
	sizes := map[int]bool{}
	for _, sc := range scs {
		sizes[sc.Replicas] = true
	}
	if !sizes[3] || !sizes[7] {
		t.Errorf("extra scenarios cover cluster sizes %v, want 3 and 7 among them", sizes)
	}
}

func TestParseScenarioDefaultsAndErrors(t *testing.T) {
	sc, err := ParseScenario([]byte(`{"replicas": 5, "requests": 10, "lifetime": 30}`), "from-file")
	if err != nil {
		t.Fatal(err)
	}
	if sc.Name != "from-file" || sc.StartWait != 5 || sc.EndWait != 2 || sc.Mix != DefaultMix || sc.MaxPackets != 20000 || sc.Thresholds != nil {
		t.Errorf("defaults not applied: %+v", sc)
	}
	if d := sc.Duration().Seconds(); d != 37 {
		t.Errorf("duration %v, want 37 s", d)
	}
	sc, err = ParseScenario([]byte(`{"name":"z","replicas": 5, "requests": 10, "lifetime": 30, "start_wait": 0, "mix": 0}`), "x")
	if err != nil || sc.StartWait != 0 || sc.Mix != 0 || sc.Name != "z" {
		t.Errorf("explicit zeros: %+v, %v", sc, err)
	}
	for _, bad := range []string{
		`{"replicas": 5, "requests": 10, "lifetime": 30, "lifetme": 3}`,
		`{"replicas": 2, "requests": 10, "lifetime": 30}`,
		`{"replicas": 5, "requests": 10, "lifetime": 0}`,
		`{"replicas": 5, "requests": 10, "lifetime": 30, "mix": 1.5}`,
		`{"replicas": 5, "requests": 10, "lifetime": 30, "drops": -0.1}`,
		`{"replicas": 5, "requests": 10, "lifetime": 30, "events": [{"type": "kill_everyone", "time": 1}]}`,
		`{"replicas": 5, "requests": 10, "lifetime": 30, "events": [{"type": "kill_leader", "time": 31}]}`,
		`{"replicas": 5, "requests": 10, "lifetime": 30, "thresholds": {"total_msgs": [3, 2, 1], "failures": [0, 1, 2], "duplicates": [0, 1, 2], "median_latency": [0, 1, 2]}}`,
		`{"replicas": 5, "requests": 10, "lifetime": 30} trailing`,
	} {
		if _, err := ParseScenario([]byte(bad), "bad"); err == nil {
			t.Errorf("ParseScenario(%s) accepted it", bad)
		}
	}
}
