package sim

import (
	"fmt"

	"github.com/anishathalye/porcupine"
)

// clientReq is one attempt of a client operation, as a node receives it.
type clientReq struct {
	client uint64
	req    uint64
	get    bool
	key    string
	value  string
}

// client issues operations one at a time, retrying each with the same
// request id until some node answers, as the production client does.
type client struct {
	c     *Cluster
	id    uint64
	index int // position in Cluster.clients, porcupine's client id
	// target is the node the client believes leads.
	target uint64
	// nextReq numbers requests; each operation keeps its number across
	// retries so the state machine can deduplicate.
	nextReq uint64
	op      *pendingOp
	// budget is how many more operations to issue.
	budget int
	// attempt distinguishes the current attempt's timer from stale ones.
	attempt int
}

type pendingOp struct {
	req   clientReq
	call  Time
	tries int
}

// ClientOptions shape the workload.
type ClientOptions struct {
	// Clients is the number of concurrent clients.
	Clients int
	// Ops is the number of operations each client issues.
	Ops int
	// Keys is the size of the key space (small, so operations collide).
	Keys int
	// GetRatio is the fraction of operations that are reads.
	GetRatio float64
	// Think is the longest pause between a client's operations.
	Think Time
	// Timeout is how long a client waits before retrying elsewhere.
	Timeout Time
}

func (cl *client) scheduleNext() {
	c := cl.c
	if cl.budget == 0 || c.stopClients {
		return
	}
	wait := Time(0)
	if c.opt.Clients.Think > 0 {
		wait = Time(c.rng.Int64N(int64(c.opt.Clients.Think)))
	}
	c.sched.after(wait, cl.issue)
}

func (cl *client) issue() {
	c := cl.c
	if cl.op != nil || cl.budget == 0 || c.stopClients {
		return
	}
	cl.budget--
	cl.nextReq++
	key := fmt.Sprintf("k%d", c.rng.IntN(max(1, c.opt.Clients.Keys)))
	req := clientReq{client: cl.id, req: cl.nextReq, key: key}
	if c.rng.Float64() < c.opt.Clients.GetRatio {
		req.get = true
	} else {
		req.value = fmt.Sprintf("c%d.%d", cl.id, cl.nextReq)
	}
	cl.op = &pendingOp{req: req, call: c.sched.now}
	c.stats.Ops++
	cl.send()
}

// send transmits the current operation to the believed leader, or a random
// node, and arms the retry timer.
func (cl *client) send() {
	c := cl.c
	op := cl.op
	op.tries++
	if op.tries > 1 {
		c.stats.Retries++
	}
	if cl.target == 0 || cl.target > uint64(len(c.nodes)) {
		cl.target = uint64(1 + c.rng.IntN(len(c.nodes)))
	}
	to := c.nodes[cl.target-1]
	req := op.req
	c.tracef(c.sched.now, 0, "client %d -> n%d %s", cl.id, to.id, describeReq(req))
	c.sched.after(c.net.delay(), func() {
		if to.up {
			to.enqueue(func() { to.handleRequest(&req) })
		}
	})
	cl.attempt++
	attempt := cl.attempt
	c.sched.after(c.opt.Clients.Timeout, func() {
		if cl.op == op && cl.attempt == attempt {
			cl.target = uint64(1 + c.rng.IntN(len(c.nodes)))
			cl.send()
		}
	})
}

func describeReq(r clientReq) string {
	if r.get {
		return fmt.Sprintf("get %s (req %d)", r.key, r.req)
	}
	return fmt.Sprintf("put %s=%s (req %d)", r.key, r.value, r.req)
}

// complete records the operation's result and moves on.
func (cl *client) complete(value string) {
	c := cl.c
	op := cl.op
	cl.op = nil
	in := kvInput{put: !op.req.get, key: op.req.key, value: op.req.value}
	c.history = append(c.history, porcupine.Operation{
		ClientId: cl.index, Input: in, Call: int64(op.call), Output: value, Return: int64(c.sched.now),
	})
	c.stats.Completed++
	cl.scheduleNext()
}

// Replies travel back over a reliable but delayed link; output a crashed
// node never sent is lost.

func (c *Cluster) replyPut(n *simNode, clientID, reqID, index uint64) {
	c.deliverReply(n, clientID, func(cl *client) {
		if cl.op == nil || cl.op.req.req != reqID || cl.op.req.get {
			c.stats.LateReplies++
			return
		}
		c.check.putAcknowledged(cl.op.req, index)
		cl.complete("")
	})
}

func (c *Cluster) replyGet(n *simNode, req *clientReq, value string) {
	c.deliverReply(n, req.client, func(cl *client) {
		if cl.op == nil || cl.op.req.req != req.req || !cl.op.req.get {
			c.stats.LateReplies++
			return
		}
		cl.complete(value)
	})
}

func (c *Cluster) replyRedirect(n *simNode, req *clientReq, leader uint64) {
	c.deliverReply(n, req.client, func(cl *client) {
		if cl.op == nil || cl.op.req.req != req.req {
			return
		}
		// Retry at once at the named leader; with none known, wait a
		// little and try a random node.
		c.stats.Redirects++
		cl.attempt++
		if leader != 0 && leader != n.id {
			cl.target = leader
			cl.send()
			return
		}
		cl.target = uint64(1 + c.rng.IntN(len(c.nodes)))
		op := cl.op
		c.sched.after(c.opt.Clients.Timeout/4, func() {
			if cl.op == op {
				cl.send()
			}
		})
	})
}

func (c *Cluster) deliverReply(n *simNode, clientID uint64, fn func(cl *client)) {
	at, inc := n.outAt, n.incarnation
	c.sched.at(at+c.net.delay(), func() {
		if !n.sentBeforeCrash(inc, at) {
			return
		}
		cl := c.clientByID(clientID)
		if cl != nil {
			fn(cl)
		}
	})
}

func (c *Cluster) clientByID(id uint64) *client {
	i := int(id - clientIDBase)
	if i < 0 || i >= len(c.clients) {
		return nil
	}
	return c.clients[i]
}

// clientIDBase keeps client IDs apart from node IDs in traces.
const clientIDBase = 1000
