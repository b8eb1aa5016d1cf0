package main

import (
	"context"
)

const putSynopsis = "raftkv put [flags] <key> <value>"

const putAbout = `Sets key to value, creating the key if it does not exist, and prints the
key's new version and the store revision. Any node accepts the write (a
follower forwards it to the leader); retries after a lost answer reuse the
request id, so the write applies at most once. Use "--" before a key or
value that begins with "-".

` + exitCodesHelp

func runPut(ctx context.Context, std stdio, args []string) int {
	fs := newFlagSet(std, "put", putSynopsis, putAbout)
	f := addClientFlags(fs)
	cc, pos, code, ok := setup(std, "put", fs, f, args, 2, 2)
	if !ok {
		return code
	}
	defer cc.client.Close()
	w, err := cc.client.Put(ctx, pos[0], pos[1])
	if err != nil {
		return cc.fail(ctx, err)
	}
	cc.printWrite(w)
	return exitOK
}
