package main

import (
	"context"
	"fmt"

	"github.com/raftkv/raftkv/client"
)

const getSynopsis = "raftkv get [flags] <key>"

const getAbout = `Prints key's value followed by a newline (with -o json: the value, version,
create and mod revisions, and the store revision). A missing key prints a
message on stderr and exits 1.

Reads are linearizable: they reflect every write acknowledged before the
read began. --stale reads the local state of the first node that answers
instead: faster, and possible without a leader, but perhaps out of date.

` + exitCodesHelp

// getJSON is get's -o json output.
type getJSON struct {
	kvJSON
	Revision uint64 `json:"revision"`
}

func runGet(ctx context.Context, std stdio, args []string) int {
	fs := newFlagSet(std, "get", getSynopsis, getAbout)
	f := addClientFlags(fs)
	stale := fs.Bool("stale", false, "read the answering node's local state without confirming it is current")
	cc, pos, code, ok := setup(std, "get", fs, f, args, 1, 1)
	if !ok {
		return code
	}
	defer cc.client.Close()
	var opts []client.ReadOption
	if *stale {
		opts = append(opts, client.Stale())
	}
	g, err := cc.client.Get(ctx, pos[0], opts...)
	if err != nil {
		return cc.fail(ctx, err)
	}
	if cc.json() {
		cc.printJSON(getJSON{kvJSON: toKVJSON(g.KeyValue), Revision: g.Revision})
		return exitOK
	}
	fmt.Fprintf(std.out, "%s\n", g.Value)
	return exitOK
}
