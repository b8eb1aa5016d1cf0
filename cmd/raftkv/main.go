// Command raftkv is the project's one binary: every task is a subcommand
// (`raftkv sim`, and serve, put, get... as they land).
//
// Each subcommand lives in its own file, cmd/raftkv/<name>.go, parses its
// own flags with the standard flag package (so --help works everywhere)
// and returns an exit code; the dispatch table below is the only place
// that lists them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes shared by every subcommand.
const (
	exitOK          = 0   // success
	exitFailed      = 1   // the command ran and found a failure (e.g. a scenario failed correctness)
	exitUsage       = 2   // bad flags or arguments
	exitError       = 3   // the command could not do its job (missing program, I/O error)
	exitInterrupted = 130 // interrupted by SIGINT or SIGTERM
)

// command is one subcommand. run gets the arguments after the subcommand's
// name and returns an exit code.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, io stdio, args []string) int
}

// stdio is where a command writes, so tests can run commands in-process.
type stdio struct {
	out, err io.Writer
}

// commands is the dispatch table: to add a subcommand, write
// cmd/raftkv/<name>.go and add its line here.
func commands() []command {
	return []command{
		{"serve", "run one server of a raftkv cluster", runServe},
		{"playground", "start a local 3-node cluster and run until Ctrl-C", runPlayground},
		{"sim", "run the classroom network simulator against a replica program", runSim},
		{"put", "set a key's value", runPut},
		{"get", "read a key's value", runGet},
		{"del", "delete a key", runDel},
		{"scan", "list keys by prefix or range", runScan},
		{"cas", "compare-and-swap: write or delete a key only at a given version", runCAS},
		{"status", "show each node's role, term, leader and replication progress", runStatus},
		{"dsim", "run the deterministic whole-cluster simulation over many seeds", runDsim},
		{"bench", "measure throughput and latency of a cluster (its own, by default)", runBench},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, stdio{out: os.Stdout, err: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}

func dispatch(ctx context.Context, std stdio, args []string) int {
	if len(args) == 0 {
		usage(std.err)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && name == "help" {
			return dispatch(ctx, std, []string{args[1], "--help"})
		}
		usage(std.out)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, std, args[1:])
		}
	}
	fmt.Fprintf(std.err, "raftkv: unknown command %q\n\n", name)
	usage(std.err)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "raftkv: a strongly consistent replicated key-value store.\n\nUsage:\n  raftkv <command> [flags] [arguments]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'raftkv <command> --help' for a command's flags.\n")
}

// newFlagSet makes a subcommand's flag set; synopsis and about head its
// --help text.
func newFlagSet(std stdio, name, synopsis, about string) *flag.FlagSet {
	fs := flag.NewFlagSet("raftkv "+name, flag.ContinueOnError)
	fs.SetOutput(std.err)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s\n\n%s\n\nFlags:\n", synopsis, about)
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses flags wherever they appear among the positional
// arguments (the flag package alone stops at the first positional one) and
// returns the positional arguments. It reports whether the command should
// go on; if not, code is its exit code (0 after --help).
func parseArgs(fs *flag.FlagSet, args []string) (positional []string, code int, ok bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(io.Discard)
				return nil, exitOK, false
			}
			return nil, exitUsage, false
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, exitOK, true
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}
