package progress

import "testing"

func TestInflightsWindow(t *testing.T) {
	in := NewInflights(3)
	for _, i := range []uint64{5, 7, 9} {
		in.Add(i)
	}
	if !in.Full() || in.Count() != 3 {
		t.Fatalf("want full window of 3, got count %d", in.Count())
	}
	in.FreeLE(7)
	if in.Count() != 1 || in.Full() {
		t.Fatalf("after FreeLE(7): count %d", in.Count())
	}
	in.Add(11)
	in.Add(13)
	in.FreeFirst()
	if in.Count() != 2 {
		t.Fatalf("after FreeFirst: count %d, want 2", in.Count())
	}
	in.FreeLE(100)
	if in.Count() != 0 {
		t.Fatalf("after FreeLE(100): count %d", in.Count())
	}
}

func TestMaybeDecrToProbe(t *testing.T) {
	p := New(11, 4)
	// Stale rejection of an index we no longer probe.
	if p.MaybeDecrTo(5, 2) {
		t.Fatal("stale rejection accepted")
	}
	// Rejection of prevLogIndex 10 with a hint that index 3 may match.
	if !p.MaybeDecrTo(10, 3) || p.Next != 4 {
		t.Fatalf("next=%d, want 4", p.Next)
	}
	// The hint never moves Next below Match+1.
	p.Match = 6
	p.Next = 11
	if !p.MaybeDecrTo(10, 2) || p.Next != 7 {
		t.Fatalf("next=%d, want 7", p.Next)
	}
}

func TestMaybeDecrToReplicate(t *testing.T) {
	p := New(1, 4)
	p.MaybeUpdate(8)
	p.BecomeReplicate()
	p.OptimisticUpdate(20)
	if p.MaybeDecrTo(8, 0) {
		t.Fatal("rejection at or below Match must be stale")
	}
	if !p.MaybeDecrTo(15, 0) || p.Next != 9 {
		t.Fatalf("next=%d, want 9", p.Next)
	}
}

func TestBecomeProbeAfterSnapshot(t *testing.T) {
	p := New(1, 4)
	p.BecomeSnapshot(50)
	if !p.IsPaused() {
		t.Fatal("snapshot state must pause appends")
	}
	p.BecomeProbe()
	if p.Next != 51 || p.State != Probe {
		t.Fatalf("after snapshot: %v", p)
	}
}
