package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"text/tabwriter"

	"github.com/raftkv/raftkv/client"
)

const statusSynopsis = "raftkv status [flags]"

const statusAbout = `Asks every endpoint for its view of the cluster and prints one line per
node (role, term, leader, commit and applied index), then the leader's view
of each follower's replication. Nodes that do not answer are listed with
the reason. Exits 0 if any node answered, 3 if none did.

` + exitCodesHelp

// nodeStatusJSON is one endpoint in status's -o json output.
type nodeStatusJSON struct {
	Endpoint string         `json:"endpoint"`
	Status   *client.Status `json:"status,omitempty"`
	Error    string         `json:"error,omitempty"`
}

func runStatus(ctx context.Context, std stdio, args []string) int {
	fs := newFlagSet(std, "status", statusSynopsis, statusAbout)
	f := addClientFlags(fs)
	cc, _, code, ok := setup(std, "status", fs, f, args, 0, 0)
	if !ok {
		return code
	}
	defer cc.client.Close()
	ctx, cancel := cc.withTimeout(ctx)
	defer cancel()

	eps := cc.client.Endpoints()
	out := make([]nodeStatusJSON, len(eps))
	var wg sync.WaitGroup
	for i, ep := range eps {
		out[i].Endpoint = ep
		wg.Go(func() {
			st, err := cc.client.Status(ctx, ep)
			if err != nil {
				out[i].Error = err.Error()
				return
			}
			out[i].Status = &st
		})
	}
	wg.Wait()
	answered := 0
	for _, n := range out {
		if n.Status != nil {
			answered++
		}
	}
	if answered == 0 && errors.Is(ctx.Err(), context.Canceled) {
		return exitInterrupted
	}
	if cc.json() {
		cc.printJSON(out)
	} else {
		printStatusTable(std, out)
	}
	if answered == 0 {
		fmt.Fprintf(std.err, "raftkv status: no node answered. Is the cluster running? Check --endpoints or $%s (now %s).\n",
			envEndpoints, f.endpoints)
		return exitUnavailable
	}
	return exitOK
}

func printStatusTable(std stdio, nodes []nodeStatusJSON) {
	tw := tabwriter.NewWriter(std.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENDPOINT\tID\tROLE\tTERM\tLEADER\tCOMMIT\tAPPLIED")
	var leader *client.Status
	for _, n := range nodes {
		if n.Status == nil {
			fmt.Fprintf(tw, "%s\t-\tunreachable\t\t\t\t\t(%s)\n", n.Endpoint, n.Error)
			continue
		}
		s := n.Status
		lead := "none"
		if s.Leader != 0 {
			lead = fmt.Sprint(s.Leader)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%d\t%d\n", n.Endpoint, s.ID, s.Role, s.Term, lead, s.CommitIndex, s.AppliedIndex)
		if s.Role == "leader" && leader == nil {
			leader = s
		}
	}
	tw.Flush()
	if leader == nil || len(leader.Peers) == 0 {
		return
	}
	fmt.Fprintf(std.out, "\nReplication, as leader %d sees it:\n", leader.ID)
	tw = tabwriter.NewWriter(std.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tMATCH\tNEXT\tSTATE\tACTIVE\tINFLIGHT")
	for _, p := range leader.Peers {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%v\t%d\n", p.ID, p.Match, p.Next, p.State, p.RecentActive, p.Inflight)
	}
	tw.Flush()
}
