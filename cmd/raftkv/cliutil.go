package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/raftkv/raftkv/client"
)

// Exit codes of the client commands (put, get, del, scan, cas, status), on
// top of the shared ones in main.go:
//
//	0   exitOK           success
//	1   exitFailed       answered, but no: key not found, version conflict
//	2   exitUsage        bad flags or arguments, or the server rejected them (too large, malformed)
//	3   exitUnavailable  no node could answer: unreachable, no leader, timed out (a write did not apply)
//	4   exitIndefinite   a write's outcome is unknown: it may have applied
//	130 exitInterrupted  interrupted by SIGINT or SIGTERM
const (
	exitUnavailable = exitError
	exitIndefinite  = 4
)

// envEndpoints names the environment variable that sets the default of
// --endpoints, so a shell session can point every command at one cluster.
const envEndpoints = "RAFTKV_ENDPOINTS"

// defaultEndpoints are the client URLs of the local playground cluster.
const defaultEndpoints = "http://127.0.0.1:2379,http://127.0.0.1:2380,http://127.0.0.1:2381"

// exitCodesHelp ends every client command's --help.
const exitCodesHelp = `Exit status: 0 success; 1 not found or version conflict; 2 bad usage or
input the server rejected; 3 cluster unreachable or unavailable (a write
did not apply); 4 a write's outcome is unknown (it may have applied: read
the key before retrying); 130 interrupted.`

// clientFlags are the flags every client command takes.
type clientFlags struct {
	endpoints string
	timeout   time.Duration
	output    string
	verbose   bool
}

func addClientFlags(fs *flag.FlagSet) *clientFlags {
	f := &clientFlags{}
	def := os.Getenv(envEndpoints)
	if def == "" {
		def = defaultEndpoints
	}
	fs.StringVar(&f.endpoints, "endpoints", def, "comma-separated client `URLs` of the cluster's nodes (default from $"+envEndpoints+")")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "give up after `D`, retries included")
	fs.StringVar(&f.output, "o", "text", "output `format`: text or json")
	fs.BoolVar(&f.verbose, "v", false, "log retries and leader changes to stderr")
	return f
}

// clientCmd holds what a client command needs once its flags are parsed.
type clientCmd struct {
	name   string
	std    stdio
	flags  *clientFlags
	client *client.Client
}

// setup parses the arguments after the command's name, checks the number
// of positional arguments and makes the client. ok false means return code.
func setup(std stdio, name string, fs *flag.FlagSet, f *clientFlags, args []string, minArgs, maxArgs int) (cc *clientCmd, positional []string, code int, ok bool) {
	positional, code, ok = parseCLIArgs(fs, args)
	if !ok {
		return nil, nil, code, false
	}
	usageErr := func(format string, a ...any) (*clientCmd, []string, int, bool) {
		fmt.Fprintf(std.err, "raftkv %s: "+format+"\n", append([]any{name}, a...)...)
		return nil, nil, exitUsage, false
	}
	if len(positional) < minArgs || len(positional) > maxArgs {
		fs.Usage()
		return nil, nil, exitUsage, false
	}
	if f.output != "text" && f.output != "json" {
		return usageErr("-o must be text or json, not %q", f.output)
	}
	if f.timeout <= 0 {
		return usageErr("--timeout must be positive")
	}
	var eps []string
	for _, ep := range strings.Split(f.endpoints, ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			eps = append(eps, ep)
		}
	}
	if len(eps) == 0 {
		return usageErr("--endpoints is empty")
	}
	cfg := client.Config{Endpoints: eps, Timeout: f.timeout, Logger: slog.New(slog.DiscardHandler)}
	if f.verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(std.err, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c, err := client.New(cfg)
	if err != nil {
		return usageErr("%v", err)
	}
	return &clientCmd{name: name, std: std, flags: f, client: c}, positional, exitOK, true
}

// parseCLIArgs is parseArgs that also honours "--": everything after it is
// positional, so keys and values may begin with "-" (raftkv put -- -k -v).
func parseCLIArgs(fs *flag.FlagSet, args []string) ([]string, int, bool) {
	var rest []string
	for i, a := range args {
		if a == "--" {
			args, rest = args[:i], args[i+1:]
			break
		}
	}
	positional, code, ok := parseArgs(fs, args)
	if !ok {
		return nil, code, false
	}
	return append(positional, rest...), exitOK, true
}

// json reports whether machine output was asked for.
func (cc *clientCmd) json() bool { return cc.flags.output == "json" }

// printJSON writes v as indented JSON on stdout.
func (cc *clientCmd) printJSON(v any) {
	enc := json.NewEncoder(cc.std.out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(cc.std.err, "raftkv %s: writing output: %v\n", cc.name, err)
	}
}

// errorJSON is the -o json form of a failure, written to stdout alongside
// the message on stderr.
type errorJSON struct {
	Error          string  `json:"error"`
	Code           string  `json:"code,omitempty"`
	Indefinite     bool    `json:"indefinite"`
	CurrentVersion *uint64 `json:"current_version,omitempty"`
}

// fail reports err and returns its exit code. The message says what
// happened and, where it helps, what to do next.
func (cc *clientCmd) fail(ctx context.Context, err error) int {
	code := exitCodeFor(ctx, err)
	var ce *client.Error
	if errors.As(err, &ce) {
		fmt.Fprintln(cc.std.err, err) // already "raftkv <operation> <key>: ..."
	} else {
		fmt.Fprintf(cc.std.err, "raftkv %s: %v\n", cc.name, err)
	}
	switch code {
	case exitIndefinite:
		fmt.Fprintf(cc.std.err, "The write may or may not have applied: read the key back before retrying it.\n")
	case exitUnavailable:
		fmt.Fprintf(cc.std.err, "Is the cluster running? Check with 'raftkv status', and --endpoints or $%s (now %s).\n",
			envEndpoints, cc.flags.endpoints)
	}
	if cc.json() {
		out := errorJSON{Error: err.Error(), Indefinite: client.IsIndefinite(err)}
		if ce != nil {
			out.Code = ce.Code
		}
		if v, ok := client.ConflictVersion(err); ok {
			out.CurrentVersion = &v
		}
		cc.printJSON(out)
	}
	return code
}

// exitCodeFor maps a client error to the documented exit codes.
func exitCodeFor(ctx context.Context, err error) int {
	switch {
	case err == nil:
		return exitOK
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return exitInterrupted
	case client.IsIndefinite(err):
		return exitIndefinite
	case errors.Is(err, client.ErrNotFound), errors.Is(err, client.ErrConflict):
		return exitFailed
	case errors.Is(err, client.ErrRejected):
		return exitUsage
	}
	return exitUnavailable
}

// kvJSON is a key in -o json output.
type kvJSON struct {
	Key            string `json:"key"`
	Value          string `json:"value"`
	Version        uint64 `json:"version"`
	CreateRevision uint64 `json:"create_revision"`
	ModRevision    uint64 `json:"mod_revision"`
}

func toKVJSON(kv client.KeyValue) kvJSON {
	return kvJSON{Key: kv.Key, Value: kv.Value, Version: kv.Version, CreateRevision: kv.CreateRevision, ModRevision: kv.ModRevision}
}

// writeResultJSON is a write's -o json output.
type writeResultJSON struct {
	Key            string `json:"key"`
	Version        uint64 `json:"version"`
	CreateRevision uint64 `json:"create_revision"`
	ModRevision    uint64 `json:"mod_revision"`
	Revision       uint64 `json:"revision"`
	Duplicate      bool   `json:"duplicate"`
}

// printWrite shows a successful write.
func (cc *clientCmd) printWrite(w client.WriteResult) {
	if cc.json() {
		cc.printJSON(writeResultJSON{Key: w.Key, Version: w.Version, CreateRevision: w.CreateRevision,
			ModRevision: w.ModRevision, Revision: w.Revision, Duplicate: w.Duplicate})
		return
	}
	if w.Version > 0 {
		fmt.Fprintf(cc.std.out, "OK (version %d, revision %d)\n", w.Version, w.Revision)
	} else {
		fmt.Fprintf(cc.std.out, "OK (revision %d)\n", w.Revision)
	}
}

// withTimeout bounds a command by --timeout (the client also applies it;
// this keeps a command that makes several calls within it too).
func (cc *clientCmd) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, cc.flags.timeout)
}
