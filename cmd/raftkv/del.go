package main

import (
	"context"
)

const delSynopsis = "raftkv del [flags] <key>"

const delAbout = `Deletes key and prints the new store revision. Deleting a key that does
not exist prints a message on stderr and exits 1. To delete only at a
given version, use "raftkv cas --delete".

` + exitCodesHelp

func runDel(ctx context.Context, std stdio, args []string) int {
	fs := newFlagSet(std, "del", delSynopsis, delAbout)
	f := addClientFlags(fs)
	cc, pos, code, ok := setup(std, "del", fs, f, args, 1, 1)
	if !ok {
		return code
	}
	defer cc.client.Close()
	w, err := cc.client.Delete(ctx, pos[0])
	if err != nil {
		return cc.fail(ctx, err)
	}
	cc.printWrite(w)
	return exitOK
}
