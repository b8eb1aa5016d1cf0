package main

import (
	"context"
	"flag"
	"fmt"
	"math"

	"github.com/raftkv/raftkv/client"
)

const casSynopsis = `raftkv cas [flags] --version N <key> <value>
       raftkv cas [flags] --version N --delete <key>`

const casAbout = `Compare-and-swap: writes (or with --delete, deletes) key only if its current
version is N. Version 0 means "only if the key does not exist", so
"cas --version 0 k v" creates k without overwriting it. Versions are shown
by "raftkv get -o json" and count a key's writes since it was created.

On a mismatch nothing changes: the key's current version is printed on
stderr and the command exits 1.

` + exitCodesHelp

func runCAS(ctx context.Context, std stdio, args []string) int {
	fs := newFlagSet(std, "cas", casSynopsis, casAbout)
	f := addClientFlags(fs)
	version := fs.Uint64("version", math.MaxUint64, "the version the key must be at (0: must not exist); required")
	del := fs.Bool("delete", false, "delete the key instead of writing a value")
	cc, pos, code, ok := setup(std, "cas", fs, f, args, 1, 2)
	if !ok {
		return code
	}
	defer cc.client.Close()
	versionSet := false
	fs.Visit(func(fl *flag.Flag) { versionSet = versionSet || fl.Name == "version" })
	switch {
	case !versionSet:
		fmt.Fprintf(std.err, "raftkv cas: --version is required (0 means the key must not exist)\n")
		return exitUsage
	case *del && len(pos) != 1:
		fmt.Fprintf(std.err, "raftkv cas: --delete takes a key and no value\n")
		return exitUsage
	case !*del && len(pos) != 2:
		fs.Usage()
		return exitUsage
	}
	var (
		w   client.WriteResult
		err error
	)
	if *del {
		w, err = cc.client.CompareAndDelete(ctx, pos[0], *version)
	} else {
		w, err = cc.client.CompareAndSwap(ctx, pos[0], pos[1], *version)
	}
	if err != nil {
		return cc.fail(ctx, err)
	}
	cc.printWrite(w)
	return exitOK
}
