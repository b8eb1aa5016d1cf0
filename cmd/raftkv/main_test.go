package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = dispatch(context.Background(), stdio{out: &out, err: &errb}, args)
	return code, out.String(), errb.String()
}

func TestDispatch(t *testing.T) {
	for _, tt := range []struct {
		args     []string
		code     int
		out, err string
	}{
		{nil, exitUsage, "", "Commands:"},
		{[]string{"--help"}, exitOK, "sim", ""},
		{[]string{"help"}, exitOK, "Commands:", ""},
		{[]string{"help", "sim"}, exitOK, "", "Usage: raftkv sim"},
		{[]string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{[]string{"sim", "--help"}, exitOK, "", "--parallel"},
		{[]string{"sim", "-h"}, exitOK, "", "Usage: raftkv sim"},
	} {
		code, out, errOut := runCmd(t, tt.args...)
		if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(errOut, tt.err) {
			t.Errorf("raftkv %q: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
				tt.args, code, out, errOut, tt.code, tt.out, tt.err)
		}
	}
}

func TestSimUsageErrors(t *testing.T) {
	dir := t.TempDir()
	scenario := filepath.Join(dir, "s.json")
	if err := os.WriteFile(scenario, []byte(`{"replicas":5,"requests":10,"lifetime":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		err  string
	}{
		{[]string{"sim"}, "Usage"},
		{[]string{"sim", "-o", "xml", scenario}, "-o must be text or json"},
		{[]string{"sim", "--seed", "abc", scenario}, "--seed"},
		{[]string{"sim", "--parallel", "0", scenario}, "--parallel"},
		{[]string{"sim", filepath.Join(dir, "missing.json")}, "missing.json"},
		{[]string{"sim", "--replica", filepath.Join(dir, "no-such-replica"), scenario}, "no-such-replica"},
		{[]string{"sim", "--scenarios", filepath.Join(dir, "empty"), "all"}, "empty"},
		{[]string{"sim", "--bogus", scenario}, "bogus"},
	} {
		code, _, errOut := runCmd(t, tt.args...)
		if code != exitUsage || !strings.Contains(errOut, tt.err) {
			t.Errorf("raftkv %q: exit %d, stderr %q; want exit %d mentioning %q", tt.args, code, errOut, exitUsage, tt.err)
		}
	}
}

// TestSimEndToEnd runs a short scenario against the simulator's fake
// replica through the command line.
func TestSimEndToEnd(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH")
	}
	dir := t.TempDir()
	fake := filepath.Join(dir, "fakereplica")
	build := exec.Command(gobin, "build", "-o", fake, "../../internal/coursesim/testdata/fakereplica")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build fake replica: %v\n%s", err, out)
	}
	if err := os.Symlink(fake, fake+"-wrong"); err != nil {
		t.Fatal(err)
	}
	scenario := filepath.Join(dir, "short.json")
	if err := os.WriteFile(scenario, []byte(`{"name": "short", "replicas": 5, "requests": 100, "lifetime": 2,
		"start_wait": 0.5, "end_wait": 0.3, "mix": 0.2,
		"thresholds": {"total_msgs": [1200, 3000, 5000], "failures": [0, 1, 2], "duplicates": [0, 2, 5], "median_latency": [0.0004, 0.002, 0.05]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("json", func(t *testing.T) {
		t.Parallel()
		html := filepath.Join(dir, "html")
		code, out, errOut := runCmd(t, "sim", "--replica", fake, "--seed", "5", "-o", "json", "--html", html, scenario)
		if code != exitOK {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		var rep struct {
			Seed    uint64
			Summary struct {
				AtBest   int `json:"at_best"`
				MaxScore int `json:"max_score"`
				Passed   int `json:"passed"`
			} `json:"summary"`
			Results []struct {
				Verdict struct{ Correct bool }
				Stats   struct {
					TotalMsgs int `json:"total_msgs"`
				}
			}
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("-o json output is not JSON: %v\n%s", err, out)
		}
		if rep.Seed != 5 || rep.Summary.MaxScore != 4 || rep.Summary.Passed != 1 || len(rep.Results) != 1 || !rep.Results[0].Verdict.Correct || rep.Results[0].Stats.TotalMsgs == 0 {
			t.Errorf("report %+v", rep)
		}
		if !strings.Contains(errOut, "seed 5") {
			t.Errorf("the seed is not printed: %s", errOut)
		}
		for _, f := range []string{"short.html", "index.html"} {
			if _, err := os.Stat(filepath.Join(html, f)); err != nil {
				t.Errorf("HTML timeline: %v", err)
			}
		}
	})
	t.Run("text, failing", func(t *testing.T) {
		t.Parallel()
		code, out, errOut := runCmd(t, "sim", scenario, "--replica", fake+"-wrong", "--seed", "5")
		if code != exitFailed {
			t.Fatalf("exit %d, want %d for a correctness failure\n%s\n%s", code, exitFailed, out, errOut)
		}
		for _, want := range []string{"FAIL", "incorrect answer", "score: 0/4 metrics at their best tier"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
}
