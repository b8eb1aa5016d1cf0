package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/raftkv/raftkv/internal/coursesim"
)

const simSynopsis = "raftkv sim [flags] <scenario.json | directory | all> ..."

const simAbout = `Runs the classroom network simulator: starts the replica program once per
replica, routes its UDP messages (with drops, partitions and kills), drives 8
clients, and judges correctness and the four performance metrics of each
scenario. "all" runs every scenario file directly inside --scenarios (the 17
standard ones); a directory runs the *.json files directly inside it.

Prints a table with each metric's value and tier, correctness with reasons,
and the score "N/M metrics at their best tier". Exit status: 0 if every run
is correct, 1 if any failed correctness, 2 on bad usage, 3 if a run could
not be carried out, 130 if interrupted. A standard scenario takes about 37 s;
--parallel speeds up a full run but disturbs latency on a small machine.`

// simFlags are the flags of `raftkv sim`.
type simFlags struct {
	seed      string
	replica   string
	htmlDir   string
	output    string
	parallel  int
	scenarios string
	logsDir   string
	verbose   bool
	// requestFirst orders simultaneous requests before faults, as the
	// original simulator did.
	requestFirst bool
}

func runSim(ctx context.Context, std stdio, args []string) int {
	var f simFlags
	fs := newFlagSet(std, "sim", simSynopsis, simAbout)
	fs.StringVar(&f.seed, "seed", "", "`N` seeds every random choice, for a reproducible schedule (default: a scenario's own seed, else random; printed)")
	fs.StringVar(&f.replica, "replica", "./3700kvstore", "replica program `PATH`")
	fs.StringVar(&f.htmlDir, "html", "", "write an HTML timeline per scenario, and index.html, into `DIR`")
	fs.StringVar(&f.output, "o", "text", "output `format`: text or json")
	fs.IntVar(&f.parallel, "parallel", 1, "run up to `K` scenarios at once")
	fs.StringVar(&f.scenarios, "scenarios", "scenarios", "`DIR` that \"all\" runs")
	fs.StringVar(&f.logsDir, "logs", "", "save each replica's stdout and stderr as `DIR`/<scenario>-<id>.log (default: discard)")
	fs.BoolVar(&f.requestFirst, "request-first", false, "at equal times send a request before applying a fault, as the original simulator did (then a request due at the instant of a kill_leader is lost with the leader)")
	fs.BoolVar(&f.verbose, "v", false, "log every simulator event (hellos, leader changes, faults) to stderr")
	targets, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(std.err, "raftkv sim: "+format+"\n", a...)
		return exitUsage
	}
	if len(targets) == 0 {
		fs.Usage()
		return exitUsage
	}
	if f.output != "text" && f.output != "json" {
		return usageErr("-o must be text or json, not %q", f.output)
	}
	if f.parallel < 1 {
		return usageErr("--parallel must be at least 1")
	}
	var seed uint64
	seedGiven := f.seed != ""
	if seedGiven {
		s, err := strconv.ParseUint(f.seed, 10, 64)
		if err != nil {
			return usageErr("--seed must be a non-negative integer: %v", err)
		}
		seed = s
	} else {
		seed = rand.Uint64() // the command line, not the simulator, picks a fresh seed
	}
	scenarios, err := loadTargets(targets, f.scenarios)
	if err != nil {
		return usageErr("%v", err)
	}
	replica, err := coursesim.ResolveReplica(f.replica)
	if err != nil {
		return usageErr("%v", err)
	}
	for _, dir := range []string{f.htmlDir, f.logsDir} {
		if dir != "" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				fmt.Fprintf(std.err, "raftkv sim: %v\n", err)
				return exitError
			}
		}
	}
	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(std.err, &slog.HandlerOptions{Level: level}))

	seeds := make([]uint64, len(scenarios))
	for i, sc := range scenarios {
		seeds[i] = seed
		if !seedGiven && sc.Seed != nil {
			seeds[i] = *sc.Seed
		}
	}
	fmt.Fprintf(std.err, "raftkv sim: %d scenario(s), seed %d (rerun with --seed %d), replica %s\n", len(scenarios), seed, seed, replica)

	results, runErrs := runAll(ctx, std, scenarios, seeds, replica, f, log)
	if ctx.Err() != nil {
		fmt.Fprintln(std.err, "raftkv sim: interrupted; every replica process was killed")
		return exitInterrupted
	}
	var done []*coursesim.Result
	for _, r := range results {
		if r != nil {
			done = append(done, r)
		}
	}
	if f.htmlDir != "" && len(done) > 0 {
		if err := writeHTML(f.htmlDir, done); err != nil {
			fmt.Fprintf(std.err, "raftkv sim: %v\n", err)
			runErrs = append(runErrs, err)
		} else {
			fmt.Fprintf(std.err, "raftkv sim: timelines in %s\n", filepath.Join(f.htmlDir, "index.html"))
		}
	}
	if err := report(std.out, f.output, seed, done); err != nil {
		fmt.Fprintf(std.err, "raftkv sim: %v\n", err)
		return exitError
	}
	if len(runErrs) > 0 {
		return exitError
	}
	for _, r := range done {
		if !r.Verdict.Correct {
			return exitFailed
		}
	}
	return exitOK
}

// loadTargets turns the command line's targets into scenarios.
func loadTargets(targets []string, allDir string) ([]coursesim.Scenario, error) {
	var out []coursesim.Scenario
	for _, t := range targets {
		if t == "all" {
			t = allDir
		}
		fi, err := os.Stat(t)
		if err != nil {
			return nil, fmt.Errorf("scenario %q: %w", t, err)
		}
		if fi.IsDir() {
			scs, err := coursesim.LoadDir(t)
			if err != nil {
				return nil, err
			}
			out = append(out, scs...)
			continue
		}
		sc, err := coursesim.LoadScenario(t)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, nil
}

// runAll runs the scenarios, up to f.parallel at once, and returns their
// results in order (nil where a run could not be carried out) and the
// errors of those runs.
func runAll(ctx context.Context, std stdio, scenarios []coursesim.Scenario, seeds []uint64, replica string, f simFlags, log *slog.Logger) ([]*coursesim.Result, []error) {
	results := make([]*coursesim.Result, len(scenarios))
	var (
		mu   sync.Mutex // guards errs and std.err
		errs []error
		wg   sync.WaitGroup
	)
	sem := make(chan struct{}, f.parallel)
	for i := range scenarios {
		sc := scenarios[i]
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			mu.Lock()
			fmt.Fprintf(std.err, "[%d/%d] %s: running for %s...\n", i+1, len(scenarios), sc.Name, sc.Duration().Round(time.Second))
			mu.Unlock()
			res, err := runOne(ctx, sc, seeds[i], replica, f, log)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if ctx.Err() == nil {
					fmt.Fprintf(std.err, "[%d/%d] %s: %v\n", i+1, len(scenarios), sc.Name, err)
					errs = append(errs, err)
				}
				return
			}
			results[i] = res
			fmt.Fprintf(std.err, "[%d/%d] %s: %s\n", i+1, len(scenarios), sc.Name, res.Verdict)
		}()
	}
	wg.Wait()
	return results, errs
}

func runOne(ctx context.Context, sc coursesim.Scenario, seed uint64, replica string, f simFlags, log *slog.Logger) (*coursesim.Result, error) {
	opts := coursesim.Options{ReplicaPath: replica, Seed: seed, Logger: log}
	if f.requestFirst {
		opts.Ties = coursesim.RequestFirst
	}
	var files []*os.File
	defer func() {
		for _, fl := range files {
			fl.Close()
		}
	}()
	if f.logsDir != "" {
		var openErr error
		opts.ReplicaOutput = func(id string) io.Writer {
			fl, err := os.Create(filepath.Join(f.logsDir, sc.Name+"-"+id+".log"))
			if err != nil {
				openErr = errors.Join(openErr, err)
				return nil
			}
			files = append(files, fl)
			return fl
		}
		defer func() {
			if openErr != nil {
				log.Warn("replica logs", "err", openErr)
			}
		}()
	}
	return coursesim.Run(ctx, sc, opts)
}

func writeHTML(dir string, results []*coursesim.Result) error {
	var hrefs []string
	for _, r := range results {
		name := r.Scenario.Name + ".html"
		if err := writeFile(filepath.Join(dir, name), func(w io.Writer) error { return coursesim.WriteHTML(w, r) }); err != nil {
			return err
		}
		hrefs = append(hrefs, name)
	}
	return writeFile(filepath.Join(dir, "index.html"), func(w io.Writer) error {
		return coursesim.WriteHTMLIndex(w, results, hrefs)
	})
}

func writeFile(path string, write func(io.Writer) error) error {
	fl, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := write(fl); err != nil {
		fl.Close()
		return err
	}
	if err := fl.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// simReport is the -o json document.
type simReport struct {
	Seed    uint64              `json:"seed"`
	Summary coursesim.Summary   `json:"summary"`
	Results []*coursesim.Result `json:"results"`
}

func report(w io.Writer, format string, seed uint64, results []*coursesim.Result) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if results == nil {
			results = []*coursesim.Result{}
		}
		if err := enc.Encode(simReport{Seed: seed, Summary: coursesim.Summarize(results), Results: results}); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		return nil
	}
	if len(results) == 1 {
		if err := coursesim.WriteDetails(w, results[0]); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	return coursesim.WriteText(w, results)
}
