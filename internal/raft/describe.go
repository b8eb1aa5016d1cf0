package raft

import (
	"fmt"
	"strings"
)

// DescribeMessage renders m on one line, the same way in tests, simulator
// traces and logs, e.g. "1->2 App term=3 idx=17/3 entries=4 commit=16".
func DescribeMessage(m Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d->%d %s term=%d", m.From, m.To, m.Type, m.Term)
	switch m.Type {
	case MsgApp:
		fmt.Fprintf(&b, " idx=%d/%d entries=%d commit=%d", m.Index, m.LogTerm, len(m.Entries), m.Commit)
		if n := len(m.Entries); n > 0 {
			fmt.Fprintf(&b, " [%d..%d]", m.Entries[0].Index, m.Entries[n-1].Index)
		}
	case MsgAppResp:
		if m.Reject {
			fmt.Fprintf(&b, " reject idx=%d hint=%d/%d", m.Index, m.RejectHint, m.LogTerm)
		} else {
			fmt.Fprintf(&b, " idx=%d", m.Index)
		}
		fmt.Fprintf(&b, " commit=%d", m.Commit)
	case MsgHeartbeat, MsgHeartbeatResp:
		fmt.Fprintf(&b, " commit=%d", m.Commit)
	case MsgVote, MsgPreVote:
		fmt.Fprintf(&b, " last=%d/%d", m.Index, m.LogTerm)
		if m.Force {
			b.WriteString(" force")
		}
	case MsgVoteResp, MsgPreVoteResp:
		if m.Reject {
			b.WriteString(" rejected")
		} else {
			b.WriteString(" granted")
		}
	case MsgSnap:
		if m.Snapshot != nil {
			fmt.Fprintf(&b, " snap=%d/%d bytes=%d", m.Snapshot.Meta.Index, m.Snapshot.Meta.Term, len(m.Snapshot.Data))
		}
	}
	if len(m.Chain) > 0 {
		fmt.Fprintf(&b, " chain=%v", m.Chain)
	}
	if m.Lead != None {
		fmt.Fprintf(&b, " lead=%d", m.Lead)
	}
	if m.Quiet {
		b.WriteString(" quiet")
	}
	if m.Urgent {
		b.WriteString(" urgent")
	}
	if m.Seq != 0 {
		fmt.Fprintf(&b, " seq=%d.%d", seqTick(m.Seq), m.Seq&(1<<seqTickShift-1))
	}
	return b.String()
}

// DescribeEntry renders e on one line: "17/3 Normal c=5 r=9 len=12".
func DescribeEntry(e Entry) string {
	s := fmt.Sprintf("%d/%d %s", e.Index, e.Term, e.Type)
	if e.ClientID != 0 || e.RequestID != 0 {
		s += fmt.Sprintf(" c=%d r=%d", e.ClientID, e.RequestID)
	}
	return s + fmt.Sprintf(" len=%d", len(e.Data))
}

// DescribeReady renders a Ready on one line, for traces and logs.
func DescribeReady(rd Ready) string {
	var parts []string
	if rd.SoftState != nil {
		parts = append(parts, fmt.Sprintf("soft=%s/lead=%d", rd.SoftState.Role, rd.SoftState.Lead))
	}
	if !rd.HardState.IsEmpty() {
		parts = append(parts, fmt.Sprintf("hard=term:%d,vote:%d,commit:%d", rd.HardState.Term, rd.HardState.Vote, rd.HardState.Commit))
	}
	if n := len(rd.Entries); n > 0 {
		parts = append(parts, fmt.Sprintf("persist=[%d..%d]", rd.Entries[0].Index, rd.Entries[n-1].Index))
	}
	if rd.Snapshot != nil {
		parts = append(parts, fmt.Sprintf("snapshot=%d/%d", rd.Snapshot.Meta.Index, rd.Snapshot.Meta.Term))
	}
	if n := len(rd.CommittedEntries); n > 0 {
		parts = append(parts, fmt.Sprintf("apply=[%d..%d]", rd.CommittedEntries[0].Index, rd.CommittedEntries[n-1].Index))
	}
	if n := len(rd.Messages); n > 0 {
		parts = append(parts, fmt.Sprintf("msgs=%d", n))
	}
	if n := len(rd.ReadStates); n > 0 {
		parts = append(parts, fmt.Sprintf("reads=%d", n))
	}
	if rd.MustSync {
		parts = append(parts, "sync")
	}
	if len(parts) == 0 {
		return "Ready{}"
	}
	return "Ready{" + strings.Join(parts, " ") + "}"
}
