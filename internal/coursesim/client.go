package coursesim

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Workload constants. The spec fixes the number of clients and the key and
// value sizes; the rest are where it is silent, chosen as the original
// simulator did (see docs/classroom-simulator.md).
const (
	// NumClients is the number of simulated clients.
	NumClients = 8
	// clientIDOffset: clients are named from (replicas + 16) upward.
	clientIDOffset = 16
	// NewKeyProbability is the chance that a put creates a new key rather
	// than overwriting one the client has seen acknowledged (the original
	// drew random() > 0.5).
	NewKeyProbability = 0.5
	keyLen            = 32
	valueLen          = 32
	midLen            = 16
	// keyAlphabet and midAlphabet are the original's upper-case letters and
	// digits; values are lower-case hex, as the original's MD5 digests were.
	// None of the three needs escaping in JSON, which appendRequest relies on.
	keyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	midAlphabet = keyAlphabet
	hexAlphabet = "0123456789abcdef"
)

// request is one outstanding client request, keyed by its MID.
type request struct {
	get    bool
	key    string
	value  string // puts only
	sentAt time.Duration
	dst    int // the replica it was sent to (-1 if none was alive)
}

// client is one simulated client. Its state is owned by the engine and
// touched only under the engine's lock.
type client struct {
	name string
	// leader is the replica the client will send to next; -1 when unknown.
	leader  int
	pending map[string]*request
	// done holds the MIDs answered ok: a later reply to one is a duplicate.
	done map[string]struct{}
	// acked maps each key to the last value this client saw acknowledged;
	// keys lists them in the order first acknowledged, so that seeded
	// choices do not depend on map order.
	acked map[string]string
	keys  []string
}

func newClient(name string) *client {
	return &client{
		name:    name,
		leader:  -1,
		pending: make(map[string]*request),
		done:    make(map[string]struct{}),
		acked:   make(map[string]string),
	}
}

func (c *client) ack(key, value string) {
	if _, ok := c.acked[key]; !ok {
		c.keys = append(c.keys, key)
	}
	c.acked[key] = value
}

func randString(r *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// appendRequest appends a client request datagram to b. The fields are IDs
// and strings drawn from keyAlphabet, midAlphabet and hexAlphabet, so they
// need no JSON escaping.
func appendRequest(b []byte, src, dst, leader string, get bool, mid, key, value string) []byte {
	b = append(b, `{"src":"`...)
	b = append(b, src...)
	b = append(b, `","dst":"`...)
	b = append(b, dst...)
	b = append(b, `","leader":"`...)
	b = append(b, leader...)
	if get {
		b = append(b, `","type":"get","MID":"`...)
	} else {
		b = append(b, `","type":"put","MID":"`...)
	}
	b = append(b, mid...)
	b = append(b, `","key":"`...)
	b = append(b, key...)
	if !get {
		b = append(b, `","value":"`...)
		b = append(b, value...)
	}
	return append(b, `"}`...)
}

// reply delivers a replica's reply to client c, checking it as the spec
// says, and retries at once on redirect or fail.
func (e *engine) reply(c *client, m *message, data []byte, from int, now time.Duration, out *step) {
	if !m.mid.present {
		e.st.IncorrectReplies++
		e.incorrect(out, now, from, "reply without MID", data)
		return
	}
	ok, fail, redirect := m.typ.equals("ok"), m.typ.equals("fail"), m.typ.equals("redirect")
	if !ok && !fail && !redirect {
		e.st.IncorrectReplies++
		e.incorrect(out, now, from, "reply to a client of a type other than ok, fail or redirect", data)
		return
	}
	mid := m.mid.text()
	if _, dup := c.done[mid]; dup {
		e.st.Duplicates++
		return
	}
	req, known := c.pending[mid]
	if !known {
		e.st.IncorrectReplies++
		e.incorrect(out, now, from, "reply for a MID the client does not know", data)
		return
	}
	delete(c.pending, mid)
	c.leader = e.replicaIndex(m.leader)
	b := e.bucket(now)
	b.lat = append(b.lat, now-req.sentAt)
	switch {
	case ok:
		c.done[mid] = struct{}{}
		if !req.get {
			e.st.OKPuts++
			c.ack(req.key, req.value)
			return
		}
		e.st.OKGets++
		if !m.value.present || !m.value.equals(c.acked[req.key]) {
			e.st.IncorrectAnswers++
			e.incorrect(out, now, from, fmt.Sprintf("get %s answered with a value other than %q, the last acknowledged", req.key, c.acked[req.key]), data)
		}
	default:
		if fail {
			if req.get {
				e.st.FailedGets++
			} else {
				e.st.FailedPuts++
			}
		} else {
			e.st.Redirects++
		}
		e.send(c, req.get, req.key, req.value, now, out)
	}
}

// destination is the replica client c sends to: its last known leader if
// that one lives, else a random living replica (-1 if none).
func (e *engine) destination(c *client) int {
	if c.leader >= 0 && e.alive[c.leader] {
		return c.leader
	}
	c.leader = -1
	if len(e.living) == 0 {
		return -1
	}
	return e.living[e.rng.IntN(len(e.living))]
}

// send makes client c send a request with a fresh MID.
func (e *engine) send(c *client, get bool, key, value string, now time.Duration, out *step) {
	dst := e.destination(c)
	mid := randString(e.rng, midAlphabet, midLen)
	c.pending[mid] = &request{get: get, key: key, value: value, sentAt: now, dst: dst}
	if get {
		e.st.GetsSent++
	} else {
		e.st.PutsSent++
	}
	e.bucket(now).requests++
	if dst < 0 || !e.addr[dst].IsValid() {
		e.st.ClientUnsent++
		return
	}
	start := len(out.buf)
	out.buf = appendRequest(out.buf, c.name, e.names[dst], e.leaderName(c.leader), get, mid, key, value)
	out.sends = append(out.sends, send{to: dst, addr: e.addr[dst], data: out.buf[start:]})
}

// request runs one scheduled client request.
func (e *engine) request(a *action, now time.Duration, out *step) {
	if e.over {
		return
	}
	c := e.clients[a.client]
	r := rand.New(rand.NewPCG(e.seed, a.seed))
	if a.kind == actGet {
		if len(c.keys) > 0 {
			e.send(c, true, c.keys[r.IntN(len(c.keys))], "", now, out)
			return
		}
		// No acknowledged key to read: the original counted a get that
		// could not be generated and sent a put instead.
		e.st.GetGenFailures++
	}
	key := ""
	if len(c.keys) == 0 || r.Float64() < NewKeyProbability {
		key = randString(r, keyAlphabet, keyLen)
	} else {
		key = c.keys[r.IntN(len(c.keys))]
	}
	e.send(c, false, key, randString(r, hexAlphabet, valueLen), now, out)
}
