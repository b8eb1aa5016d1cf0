package udpjson

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/raftkv/raftkv/internal/raft"
)

// Op is what a classroom command does.
type Op byte

const (
	// OpGet reads a key. Replicating a get is optional (a leader with a
	// lease can answer at once); the op exists so that a replica that
	// does order reads through the log can.
	OpGet Op = 'g'
	// OpPut writes a key.
	OpPut Op = 'p'
)

// Command is a client request as replicated in raft.Entry.Data. It carries
// everything needed to answer the client, so that whichever replica applies
// the entry can do it: the client's ID (the reply's dst) and its MID (which
// the reply must echo). That is what keeps a request answered when the
// leader that took it dies.
type Command struct {
	Op     Op
	Client ID
	MID    string
	Key    string
	// Value is the value a put writes; empty for a get.
	Value string
}

// AppendCommand appends c's encoding to b:
//
//	op client len(MID) ':' MID len(key) ':' key [len(value) ':' value]
//
// with op 'g' or 'p', client four upper-case hex digits, lengths in
// decimal, and the value part only for a put; for example
// "p001A3:M012:k15:value" is client 001A putting "value" to "k1" under MID
// "M01". Length prefixes make any string safe without escaping; the
// classroom's alphabets make the whole payload printable ASCII, which
// travels unescaped inside a datagram and reads well in traces. On error b
// is returned unchanged.
func AppendCommand(b []byte, c *Command) ([]byte, error) {
	if c.Op != OpGet && c.Op != OpPut {
		return b, fmt.Errorf("udpjson: encode command: op %q: %w", byte(c.Op), ErrInvalid)
	}
	if c.Client == Broadcast {
		return b, fmt.Errorf("udpjson: encode command: client FFFF: %w", ErrInvalid)
	}
	if c.Op == OpGet && c.Value != "" {
		return b, fmt.Errorf("udpjson: encode command: a get carries no value: %w", ErrInvalid)
	}
	b = append(b, byte(c.Op))
	b = appendID(b, c.Client)
	b = appendLenString(b, c.MID)
	b = appendLenString(b, c.Key)
	if c.Op == OpPut {
		b = appendLenString(b, c.Value)
	}
	return b, nil
}

func appendLenString(b []byte, s string) []byte {
	b = strconv.AppendUint(b, uint64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

// DecodeCommand parses a command payload. It is strict (no trailing bytes,
// no leading zeros in lengths) so that each command has one encoding.
// MID, Key and Value share one allocation.
func DecodeCommand(data []byte) (Command, error) {
	if len(data) < 5 {
		return Command{}, fmt.Errorf("udpjson: decode command: %d bytes: %w", len(data), ErrMalformed)
	}
	c := Command{Op: Op(data[0])}
	if c.Op != OpGet && c.Op != OpPut {
		return Command{}, fmt.Errorf("udpjson: decode command: op %q: %w", data[0], ErrMalformed)
	}
	var ok bool
	if c.Client, ok = parseIDBytes(data[1:5]); !ok || c.Client == Broadcast {
		return Command{}, fmt.Errorf("udpjson: decode command: client %q: %w", data[1:5], ErrBadID)
	}
	parts := 2
	if c.Op == OpPut {
		parts = 3
	}
	var spans [3][2]int
	rest := 5
	for p := 0; p < parts; p++ {
		n, next, err := readLen(data, rest)
		if err != nil {
			return Command{}, fmt.Errorf("udpjson: decode command: part %d: %w", p, err)
		}
		if n > len(data)-next {
			return Command{}, fmt.Errorf("udpjson: decode command: part %d: length %d past the end: %w", p, n, ErrMalformed)
		}
		spans[p] = [2]int{next, next + n}
		rest = next + n
	}
	if rest != len(data) {
		return Command{}, fmt.Errorf("udpjson: decode command: %d trailing bytes: %w", len(data)-rest, ErrMalformed)
	}
	var sb strings.Builder
	sb.Grow(rest)
	for p := 0; p < parts; p++ {
		sb.Write(data[spans[p][0]:spans[p][1]])
	}
	all := sb.String()
	off := 0
	take := func(p int) string {
		n := spans[p][1] - spans[p][0]
		off += n
		return all[off-n : off]
	}
	c.MID, c.Key = take(0), take(1)
	if c.Op == OpPut {
		c.Value = take(2)
	}
	return c, nil
}

// readLen reads "digits:" at data[i:], returning the length and the index
// after the colon.
func readLen(data []byte, i int) (n, next int, err error) {
	start := i
	for i < len(data) && data[i] >= '0' && data[i] <= '9' {
		if i-start >= 9 { // a datagram is far shorter than 10^9 bytes
			return 0, 0, fmt.Errorf("length too long: %w", ErrMalformed)
		}
		n = n*10 + int(data[i]-'0')
		i++
	}
	switch {
	case i == start:
		return 0, 0, fmt.Errorf("want a length: %w", ErrMalformed)
	case data[start] == '0' && i-start > 1:
		return 0, 0, fmt.Errorf("leading zero in length: %w", ErrMalformed)
	case i >= len(data) || data[i] != ':':
		return 0, 0, fmt.Errorf("want ':' after length: %w", ErrMalformed)
	}
	return n, i + 1, nil
}

// CommandOf returns the command for a get or put request.
func CommandOf(d *Datagram) (Command, error) {
	switch d.Type {
	case TypeGet:
		return Command{Op: OpGet, Client: d.Src, MID: d.MID, Key: d.Key}, nil
	case TypePut:
		return Command{Op: OpPut, Client: d.Src, MID: d.MID, Key: d.Key, Value: d.Value}, nil
	}
	return Command{}, fmt.Errorf("udpjson: command of a %v datagram: %w", d.Type, ErrInvalid)
}

// Proposal returns the raft proposal for c: Data is its encoding, ClientID
// is RaftID(c.Client) and RequestID is MIDHash(c.MID).
func (c *Command) Proposal() (raft.Proposal, error) {
	data, err := AppendCommand(nil, c)
	if err != nil {
		return raft.Proposal{}, err
	}
	return raft.Proposal{ClientID: RaftID(c.Client), RequestID: MIDHash(c.MID), Data: data}, nil
}

// Reply returns the reply to c's client: typ is TypeOK, TypeFail or
// TypeRedirect; for an ok to a get, value is the value read (sent even when
// empty, as the simulator requires). Src is filled in by Conn.SendClient.
func (c *Command) Reply(typ Type, leader ID, value string) Datagram {
	d := Datagram{Type: typ, Dst: c.Client, Leader: leader, MID: c.MID}
	if typ == TypeOK && c.Op == OpGet {
		d.Value, d.HasValue = value, true
	}
	return d
}

// MIDHash is the 64-bit FNV-1a hash of a MID, used as raft.Entry.RequestID
// because raft wants a number and the classroom MID is a string. It is an
// index, not an identity: two MIDs may share a hash, so whoever deduplicates
// or matches waiting requests must compare the MID from the command payload
// and use the hash only to find candidates. A hash of 0 (raft's "no
// request") is mapped to 1.
func MIDHash(mid string) uint64 {
	const (
		offset64 = 14695981039346656037
		prime64  = 1099511628211
	)
	h := uint64(offset64)
	for i := 0; i < len(mid); i++ {
		h ^= uint64(mid[i])
		h *= prime64
	}
	if h == 0 {
		return 1
	}
	return h
}
