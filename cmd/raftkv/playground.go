package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/raftkv/raftkv/internal/server"
)

const playgroundSynopsis = "raftkv playground [--data-dir DIR] [--client-port N] [--peer-port N]"

const playgroundAbout = `Starts a local 3-node raftkv cluster on 127.0.0.1 in this process and runs
until Ctrl-C. Clients listen on --client-port and the next two ports (2379,
2380, 2381 by default, where the CLI looks), Raft on --peer-port and the next
two. Data lives in a temporary directory, removed on exit, unless --data-dir
is given (then it is kept, and the cluster restarts from it).`

func runPlayground(ctx context.Context, std stdio, args []string) int {
	fs := newFlagSet(std, "playground", playgroundSynopsis, playgroundAbout)
	dataDir := fs.String("data-dir", "", "keep the cluster's data in `DIR` (default: a temporary directory)")
	clientPort := fs.Int("client-port", 2379, "first client `PORT`")
	peerPort := fs.Int("peer-port", 12379, "first Raft `PORT`")
	logLevel := fs.String("log-level", "warn", "log `level` of the servers")
	if rest, code, ok := parseArgs(fs, args); !ok {
		return code
	} else if len(rest) > 0 {
		fmt.Fprintf(std.err, "raftkv playground: unexpected argument %q\n", rest[0])
		return exitUsage
	}
	dir := *dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "raftkv-playground-")
		if err != nil {
			fmt.Fprintf(std.err, "raftkv playground: %v\n", err)
			return exitError
		}
		dir = tmp
		defer os.RemoveAll(tmp)
	}
	logger, err := newLogger(std, *logLevel)
	if err != nil {
		fmt.Fprintf(std.err, "raftkv playground: %v\n", err)
		return exitUsage
	}
	var peers []server.Peer
	var endpoints []string
	for i := 0; i < 3; i++ {
		curl := fmt.Sprintf("http://127.0.0.1:%d", *clientPort+i)
		peers = append(peers, server.Peer{ID: uint64(i + 1), PeerAddr: fmt.Sprintf("127.0.0.1:%d", *peerPort+i), ClientURL: curl})
		endpoints = append(endpoints, curl)
	}
	var servers []*server.Server
	stopAll := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, s := range servers {
			_ = s.Stop(sctx)
		}
	}
	for _, p := range peers {
		s, err := server.Start(server.Config{
			ID: p.ID, DataDir: filepath.Join(dir, fmt.Sprintf("node%d", p.ID)), Peers: peers,
			ClusterID: "playground", Logger: logger,
		})
		if err != nil {
			stopAll()
			fmt.Fprintf(std.err, "raftkv playground: node %d: %v\n(ports in use? try --client-port and --peer-port)\n", p.ID, err)
			return exitError
		}
		servers = append(servers, s)
	}
	defer stopAll()
	// Say "up" only once every node knows a leader: a newcomer's first
	// curl, typed at once, must not meet "no leader available".
	if err := waitReady(ctx, endpoints, 30*time.Second); err != nil {
		fmt.Fprintf(std.err, "raftkv playground: %v\n", err)
		return exitError
	}
	fmt.Fprintf(std.out, "raftkv playground: 3 nodes up, data in %s\n\n", dir)
	fmt.Fprintf(std.out, "  endpoints: %s\n\n", strings.Join(endpoints, ","))
	fmt.Fprintf(std.out, "Try:\n  curl -X PUT --data-binary hello %s/v1/kv/greeting\n  curl %s/v1/kv/greeting\n", endpoints[0], endpoints[1])
	cli, ep := cliName(), ""
	if *clientPort != 2379 {
		ep = " --endpoints " + strings.Join(endpoints, ",")
	}
	fmt.Fprintf(std.out, "  curl %s/v1/status\n  %s put%s color blue && %s get%s color\n\nCtrl-C to stop.\n", endpoints[2], cli, ep, cli, ep)
	failed := make(chan error, len(servers))
	for _, s := range servers {
		go func() {
			<-s.Done()
			failed <- s.Err()
		}()
	}
	select {
	case <-ctx.Done():
		fmt.Fprintln(std.out, "\nstopping")
		return exitOK
	case err := <-failed:
		if err != nil {
			fmt.Fprintf(std.err, "raftkv playground: %v\n", err)
			return exitError
		}
		return exitOK
	}
}

// cliName is how the user can run this program again from the same shell:
// the path they used when it is the built binary (./raftkv after make),
// else the go run form.
func cliName() string {
	if filepath.Base(os.Args[0]) == "raftkv" {
		return os.Args[0]
	}
	return "go run ./cmd/raftkv"
}

// waitReady polls every endpoint's /readyz until all answer 200 (each node
// knows a leader), ctx ends, or the timeout passes.
func waitReady(ctx context.Context, endpoints []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hc := &http.Client{Timeout: time.Second}
	ready := func(ep string) bool {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep+"/readyz", nil)
		if err != nil {
			return false
		}
		resp, err := hc.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		all := true
		for _, ep := range endpoints {
			if !ready(ep) {
				all = false
				break
			}
		}
		if all {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster not ready (no leader known to every node) after %v: %w", timeout, ctx.Err())
		case <-tick.C:
		}
	}
}
