package main

import (
	"context"
	"fmt"

	"github.com/raftkv/raftkv/client"
)

const scanSynopsis = "raftkv scan [flags] [--prefix P | --start A --end B | --after K] [--limit N]"

const scanAbout = `Lists keys in byte order, one "key<TAB>value" line each (with -o json: an
object with the keys, "more" and the store revision). --prefix lists the
keys that begin with P; --start and --end the keys in [A, B) (either may be
left out); --after K starts just after K, for paging. With none, every key.

One answer holds at most --limit keys and at most the server's maximum
(10,000 keys or 4 MiB by default); when more remain, a note on stderr says
how to continue (--after the last key). Reads are linearizable unless
--stale.

` + exitCodesHelp

// scanJSON is scan's -o json output.
type scanJSON struct {
	KVs      []kvJSON `json:"kvs"`
	More     bool     `json:"more"`
	Revision uint64   `json:"revision"`
}

func runScan(ctx context.Context, std stdio, args []string) int {
	fs := newFlagSet(std, "scan", scanSynopsis, scanAbout)
	f := addClientFlags(fs)
	var req client.RangeRequest
	var after string
	fs.StringVar(&req.Prefix, "prefix", "", "list the keys that begin with `P`")
	fs.StringVar(&req.Start, "start", "", "list keys from `A` (inclusive)")
	fs.StringVar(&req.End, "end", "", "list keys up to `B` (exclusive)")
	fs.StringVar(&after, "after", "", "list keys after `K` (exclusive), to continue a listing")
	fs.IntVar(&req.Limit, "limit", 0, "list at most `N` keys (0: the server's maximum)")
	stale := fs.Bool("stale", false, "read the answering node's local state without confirming it is current")
	cc, _, code, ok := setup(std, "scan", fs, f, args, 0, 0)
	if !ok {
		return code
	}
	defer cc.client.Close()
	switch {
	case req.Prefix != "" && (req.Start != "" || req.End != "" || after != ""):
		fmt.Fprintf(std.err, "raftkv scan: give --prefix or --start/--end/--after, not both\n")
		return exitUsage
	case after != "" && req.Start != "":
		fmt.Fprintf(std.err, "raftkv scan: give --start or --after, not both\n")
		return exitUsage
	case req.Limit < 0:
		fmt.Fprintf(std.err, "raftkv scan: --limit must not be negative\n")
		return exitUsage
	case after != "":
		req.Start = after + "\x00"
	}
	var opts []client.ReadOption
	if *stale {
		opts = append(opts, client.Stale())
	}
	res, err := cc.client.Range(ctx, req, opts...)
	if err != nil {
		return cc.fail(ctx, err)
	}
	if cc.json() {
		out := scanJSON{KVs: make([]kvJSON, 0, len(res.KVs)), More: res.More, Revision: res.Revision}
		for _, kv := range res.KVs {
			out.KVs = append(out.KVs, toKVJSON(kv))
		}
		cc.printJSON(out)
		return exitOK
	}
	for _, kv := range res.KVs {
		fmt.Fprintf(std.out, "%s\t%s\n", kv.Key, kv.Value)
	}
	if res.More {
		last := res.KVs[len(res.KVs)-1].Key
		fmt.Fprintf(std.err, "raftkv scan: more keys follow; continue with --after %q\n", last)
	}
	return exitOK
}
