// Package udpjson is the classroom wire protocol and the UDP transport that
// carries it: the JSON datagrams a replica exchanges with the course's
// network simulator (docs/classroom-simulator.md,
// /work/shared/spec/course-simulator.md), both the simulator's own messages
// (hello, get, put, ok, fail, redirect) and our Raft messages, which travel
// between replicas inside the same kind of datagram. DESIGN.md explains the
// encodings and the measurements behind them.
//
// # Codec
//
// The codec is pure. IDs are four hex digits (ID; Broadcast is "FFFF") and
// map to raft node IDs as value+1 (RaftID, ClassroomID). AppendRaft,
// AppendDatagram and AppendHello encode into a caller's buffer without
// allocating; Decode parses any datagram into a Datagram, a tagged union on
// Type, strictly and without panicking. SplitApp cuts a MsgApp that would
// exceed a size limit into several that fit. Command is the client request
// as replicated in raft.Entry.Data: it carries the client's ID and MID so
// that whichever replica applies it can answer; MIDHash turns the MID into
// raft.Entry.RequestID.
//
// # Transport
//
// Listen opens the replica's one UDP socket. The replica's single event
// loop owns Recv; it wakes for timer ticks through the read deadline:
//
//	conn, err := udpjson.Listen(port, self, logger)
//	...
//	conn.SendHello() // first, or the simulator delivers nothing
//	next := time.Now().Add(tick)
//	for {
//		conn.SetReadDeadline(next)
//		d, err := conn.Recv()
//		switch {
//		case err == udpjson.ErrTimeout:
//			core.Tick()
//			next = next.Add(tick)
//		case errors.Is(err, udpjson.ErrClosed):
//			return
//		case err != nil:
//			logger.Debug("dropped datagram", "err", err) // junk: Recv keeps working
//		case d.Type == udpjson.TypeRaft:
//			core.Step(d.Raft)
//		case d.Type.IsRequest():
//			// propose, read or redirect
//		}
//		// handle Ready: conn.Send(rd.Messages, leader), conn.SendClient(reply)
//	}
//
// Send, SendHello and SendClient may be called from any goroutine; Recv
// and SetReadDeadline from one. Stats reports the counters.
package udpjson
