// Command fakereplica is a tiny classroom replica for the simulator's own
// tests: correct without faults, and nothing more. Replica 0000 is always
// the leader: it stores the data, answers at once, and broadcasts each put
// so that replication is counted. The others redirect clients to 0000.
//
// Started under a name ending in "-<mode>" (tests use symlinks), it
// misbehaves on purpose, so that tests can show each check can fail:
//
//	wrong  the leader answers gets with a wrong value
//	die    replica 0002 exits on its own after 300 ms
//	dup    the leader answers every put twice
//	storm  every replica broadcasts without pause
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: fakereplica <port> <id> <peer ids...>")
		os.Exit(2)
	}
	port, err := strconv.Atoi(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bad port:", err)
		os.Exit(2)
	}
	id := os.Args[2]
	mode := ""
	if i := strings.LastIndexByte(filepath.Base(os.Args[0]), '-'); i >= 0 {
		mode = filepath.Base(os.Args[0])[i+1:]
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	sim := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	send := func(m map[string]any) {
		b, err := json.Marshal(m)
		if err != nil {
			panic(err)
		}
		if _, err := conn.WriteToUDP(b, sim); err != nil {
			fmt.Fprintln(os.Stderr, "send:", err)
		}
	}
	const leader = "0000"
	send(map[string]any{"src": id, "dst": "FFFF", "leader": "FFFF", "type": "hello"})
	if mode == "die" && id == "0002" {
		go func() {
			time.Sleep(300 * time.Millisecond)
			os.Exit(3)
		}()
	}
	if mode == "storm" {
		go func() {
			for {
				send(map[string]any{"src": id, "dst": "FFFF", "leader": leader, "type": "noise", "term": 1})
			}
		}()
	}
	data := map[string]string{}
	buf := make([]byte, 1<<16)
	for {
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			fmt.Fprintln(os.Stderr, "read:", err)
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(buf[:n], &m); err != nil {
			fmt.Fprintln(os.Stderr, "bad datagram:", err)
			continue
		}
		typ, _ := m["type"].(string)
		src, _ := m["src"].(string)
		key, _ := m["key"].(string)
		reply := map[string]any{"src": id, "dst": src, "leader": leader, "MID": m["MID"], "term": 1}
		switch {
		case typ != "get" && typ != "put":
			continue // replication traffic: nothing to do
		case id != leader:
			reply["type"] = "redirect"
		case typ == "get":
			reply["type"] = "ok"
			reply["value"] = data[key]
			if mode == "wrong" {
				reply["value"] = data[key] + "x"
			}
		default:
			value, _ := m["value"].(string)
			data[key] = value
			send(map[string]any{"src": id, "dst": "FFFF", "leader": leader, "type": "append", "key": key, "value": value, "term": 1})
			reply["type"] = "ok"
			if mode == "dup" {
				send(reply)
			}
		}
		send(reply)
	}
}
