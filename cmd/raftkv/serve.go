package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/raftkv/raftkv/internal/server"
)

const serveSynopsis = "raftkv serve --id N --data-dir DIR --peer ID=PEERADDR,CLIENTURL ... | raftkv serve --config FILE"

const serveAbout = `Runs one raftkv server: a member of a replicated cluster, durable in
--data-dir, talking Raft to its peers over TCP and serving the HTTP API.

Every member is listed with --peer (repeat it), this one included:
  --peer 1=127.0.0.1:12379,http://127.0.0.1:2379
gives member 1's Raft address and the URL of its HTTP API. A JSON --config
file can give the same settings (fields as in the flags, snake_case, with
"peers": [{"id": 1, "peer_addr": "...", "client_url": "..."}]); flags given
on the command line override it.

Stops gracefully on SIGTERM or Ctrl-C. Exit status: 0 after a graceful
stop, 2 on bad usage, 3 if the server cannot start or its storage fails
(after an fsync error the process must not continue).`

type peerFlags []server.Peer

func (p *peerFlags) String() string { return fmt.Sprint(*p) }

func (p *peerFlags) Set(v string) error {
	peer, err := parsePeer(v)
	if err != nil {
		return err
	}
	*p = append(*p, peer)
	return nil
}

// parsePeer parses "ID=PEERADDR,CLIENTURL".
func parsePeer(v string) (server.Peer, error) {
	idStr, rest, ok := strings.Cut(v, "=")
	if !ok {
		return server.Peer{}, fmt.Errorf("peer %q: want ID=PEERADDR,CLIENTURL", v)
	}
	id, err := strconv.ParseUint(idStr, 10, 64)
	if err != nil || id == 0 {
		return server.Peer{}, fmt.Errorf("peer %q: ID must be a positive integer", v)
	}
	addr, curl, ok := strings.Cut(rest, ",")
	if !ok || addr == "" || curl == "" {
		return server.Peer{}, fmt.Errorf("peer %q: want ID=PEERADDR,CLIENTURL", v)
	}
	return server.Peer{ID: id, PeerAddr: addr, ClientURL: curl}, nil
}

func runServe(ctx context.Context, std stdio, args []string) int {
	fs := newFlagSet(std, "serve", serveSynopsis, serveAbout)
	var peers peerFlags
	configFile := fs.String("config", "", "JSON config `FILE`")
	id := fs.Uint64("id", 0, "this member's `ID`")
	dataDir := fs.String("data-dir", "", "`DIR` for the write-ahead log and snapshots")
	fs.Var(&peers, "peer", "a member as `ID=PEERADDR,CLIENTURL` (repeat for every member)")
	clusterID := fs.String("cluster-id", "", "cluster name checked when peers connect (default raftkv)")
	listenPeer := fs.String("listen-peer", "", "listen `ADDR` for Raft traffic (default: this member's PEERADDR)")
	listenClient := fs.String("listen-client", "", "listen `ADDR` for the HTTP API (default: this member's CLIENTURL host)")
	tick := fs.Duration("tick", 0, "Raft tick interval (default 100ms)")
	electionTicks := fs.Int("election-ticks", 0, "election timeout in ticks (default 10)")
	snapEvery := fs.Uint64("snapshot-every", 0, "compact the log after this many applied entries (default 10000)")
	lease := fs.Bool("lease-reads", false, "serve linearizable reads from the leader lease (assumes bounded clock drift)")
	logLevel := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	if rest, code, ok := parseArgs(fs, args); !ok {
		return code
	} else if len(rest) > 0 {
		fmt.Fprintf(std.err, "raftkv serve: unexpected argument %q\n", rest[0])
		return exitUsage
	}
	var cfg server.Config
	if *configFile != "" {
		b, err := os.ReadFile(*configFile)
		if err != nil {
			fmt.Fprintf(std.err, "raftkv serve: %v\n", err)
			return exitUsage
		}
		if err := json.Unmarshal(b, &cfg); err != nil {
			fmt.Fprintf(std.err, "raftkv serve: config %s: %v\n", *configFile, err)
			return exitUsage
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["id"] {
		cfg.ID = *id
	}
	if set["data-dir"] {
		cfg.DataDir = *dataDir
	}
	if len(peers) > 0 {
		cfg.Peers = peers
	}
	if set["cluster-id"] {
		cfg.ClusterID = *clusterID
	}
	if set["listen-peer"] {
		cfg.PeerListen = *listenPeer
	}
	if set["listen-client"] {
		cfg.ClientListen = *listenClient
	}
	if set["tick"] {
		cfg.TickInterval = *tick
	}
	if set["election-ticks"] {
		cfg.ElectionTicks = *electionTicks
	}
	if set["snapshot-every"] {
		cfg.SnapshotEvery = *snapEvery
	}
	if set["lease-reads"] {
		cfg.LeaseReads = *lease
	}
	logger, err := newLogger(std, *logLevel)
	if err != nil {
		fmt.Fprintf(std.err, "raftkv serve: %v\n", err)
		return exitUsage
	}
	cfg.Logger = logger
	srv, err := server.Start(cfg)
	if err != nil {
		fmt.Fprintf(std.err, "raftkv serve: %v\n", err)
		return exitError
	}
	select {
	case <-ctx.Done():
		logger.Info("stopping on signal")
	case <-srv.Done():
	}
	if err := srv.Err(); err != nil {
		fmt.Fprintf(std.err, "raftkv serve: %v\n", err)
		stopCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Stop(stopCtx)
		return exitError
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Stop(stopCtx); err != nil {
		fmt.Fprintf(std.err, "raftkv serve: %v\n", err)
		return exitError
	}
	if ctx.Err() != nil {
		return exitOK
	}
	return exitOK
}

func newLogger(std stdio, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, errors.New("log level must be debug, info, warn or error")
	}
	return slog.New(slog.NewTextHandler(std.err, &slog.HandlerOptions{Level: l})), nil
}
