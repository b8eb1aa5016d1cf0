// Command 3700kvstore is raftkv's classroom replica:
//
//	3700kvstore <UDP port> <own ID> <peer ID> [<peer ID> ...]
//
// It speaks the classroom's JSON-over-UDP protocol to the network
// simulator (docs/classroom-simulator.md): it says hello, then serves get
// and put requests as one replica of a Raft cluster, until it is killed.
// `make` also leaves it in the repository root as 4730kvstore, the name
// newer editions of the course use.
//
// Logs go to stderr at level warn; RAFTKV_LOG=info or debug shows more.
// The replica keeps its CPU awake with a lowest-priority spinning thread,
// which lowers latency on virtual machines at the price of idle CPU time;
// RAFTKV_WARM=0 turns that off.
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/raftkv/raftkv/internal/classroom"
	"github.com/raftkv/raftkv/internal/cpuwarm"
	"github.com/raftkv/raftkv/internal/transport/udpjson"
)

// tick is the replica's clock granularity; classroom.Config counts in it.
const tick = time.Millisecond

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "3700kvstore: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 2 {
		return errors.New("usage: 3700kvstore <UDP port> <own ID> <peer ID> [<peer ID> ...]")
	}
	port, err := strconv.Atoi(args[0])
	if err != nil || port <= 0 || port > 65535 {
		return fmt.Errorf("bad UDP port %q", args[0])
	}
	self, err := udpjson.ParseID(args[1])
	if err != nil {
		return fmt.Errorf("own ID: %w", err)
	}
	var peers []udpjson.ID
	for _, a := range args[2:] {
		p, err := udpjson.ParseID(a)
		if err != nil {
			return fmt.Errorf("peer ID: %w", err)
		}
		peers = append(peers, p)
	}
	level := slog.LevelWarn
	if v := os.Getenv("RAFTKV_LOG"); v != "" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			return fmt.Errorf("RAFTKV_LOG=%q: want debug, info, warn or error", v)
		}
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("replica", self.String())

	conn, err := udpjson.Listen(port, self.String(), logger)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer conn.Close()
	rep, err := classroom.New(classroom.Config{Self: self, Peers: peers, Logger: logger}, conn)
	if err != nil {
		return err
	}
	if err := conn.SendHello(); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	// The simulator ends a replica with SIGTERM: say what it sent first.
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-term
		sent, redirects := rep.SentCounts()
		logger.Info("terminated", "sent", sent, "redirects", redirects)
		os.Exit(0)
	}()
	return loop(conn, rep, logger)
}

// loop is the replica's one event loop: it acts on each datagram the moment
// it arrives, and delivers every tick due by the monotonic clock, even when
// datagrams keep it busy (a late or skipped tick would stretch the lease).
func loop(conn *udpjson.Conn, rep *classroom.Replica, logger *slog.Logger) error {
	// Keep this CPU awake with a lowest-priority spinner unless told not
	// to: on a virtual machine, waking an idle CPU for a datagram costs
	// more than handling it, and a put crosses six wake-ups. Real work
	// always preempts the spinner; it spends only idle time.
	if os.Getenv("RAFTKV_WARM") != "0" {
		cpuwarm.Start()
	}
	start := time.Now()
	var ticked int64
	for {
		if err := conn.SetReadDeadline(start.Add(time.Duration(ticked+1) * tick)); err != nil {
			return fmt.Errorf("set deadline: %w", err)
		}
		d, err := conn.Recv()
		switch {
		case err == nil:
			rep.Handle(d)
		case errors.Is(err, udpjson.ErrTimeout):
		case errors.Is(err, udpjson.ErrClosed):
			return nil
		default:
			logger.Warn("dropped datagram", "err", err)
		}
		for due := int64(time.Since(start) / tick); ticked < due; ticked++ {
			rep.Tick()
		}
		if err := rep.Flush(); err != nil {
			return err
		}
	}
}
