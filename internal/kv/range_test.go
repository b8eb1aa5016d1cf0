package kv

import (
	"slices"
	"testing"
)

func TestPrefixEnd(t *testing.T) {
	tests := []struct{ prefix, want string }{
		{"", ""},
		{"a", "b"},
		{"abc", "abd"},
		{"a\xff", "b"},
		{"a\xff\xff", "b"},
		{"\xfe", "\xff"},
		{"\xff", ""},
		{"\xff\xff\xff", ""},
		{"a\x00", "a\x01"},
		{"\x00\xff", "\x01"},
	}
	for _, tt := range tests {
		if got := PrefixEnd(tt.prefix); got != tt.want {
			t.Errorf("PrefixEnd(%q) = %q, want %q", tt.prefix, got, tt.want)
		}
	}
}

func TestRange(t *testing.T) {
	keys := []string{"a", "a\x00", "a\xff", "a\xff\xff", "ab", "b", "b\xff", "ba", "\xff", "\xff\x00", "\xff\xff", "\xff\xff\xff"}
	d := newDriver(t, Config{})
	for _, k := range slices.Backward(keys) { // insertion order must not matter
		d.do(mustPut(t, k, "v-"+k))
	}
	d.do(mustDelete(t, "ba"))
	d.do(mustPut(t, "ba", "again"))
	// Byte order: 'b' (0x62) sorts before 0xff, so "ab" precedes "a\xff".
	all := []string{"a", "a\x00", "ab", "a\xff", "a\xff\xff", "b", "ba", "b\xff", "\xff", "\xff\x00", "\xff\xff", "\xff\xff\xff"}
	if !slices.IsSorted(all) {
		t.Fatal("test table is not in byte order")
	}

	tests := []struct {
		name     string
		req      RangeRequest
		want     []string
		wantMore bool
	}{
		{"everything", RangeRequest{}, all, false},
		{"everything limited", RangeRequest{Limit: 3}, all[:3], true},
		{"limit equal to count has no more", RangeRequest{Limit: len(all)}, all, false},
		{"limit above count", RangeRequest{Limit: 100}, all, false},
		{"negative limit means none", RangeRequest{Limit: -1}, all, false},
		{"start inclusive end exclusive", RangeRequest{Start: "a\xff", End: "b"}, []string{"a\xff", "a\xff\xff"}, false},
		{"start only", RangeRequest{Start: "b\xff"}, all[7:], false},
		{"start between keys", RangeRequest{Start: "aa", End: "b\x00"}, []string{"ab", "a\xff", "a\xff\xff", "b"}, false},
		{"end before start", RangeRequest{Start: "b", End: "a"}, nil, false},
		{"end equal to start", RangeRequest{Start: "b", End: "b"}, nil, false},
		{"empty window", RangeRequest{Start: "c", End: "d"}, nil, false},
		{"prefix a", PrefixRange("a", 0), all[:5], false},
		{"prefix a limited", PrefixRange("a", 2), []string{"a", "a\x00"}, true},
		{"prefix a limited to exactly its keys", PrefixRange("a", 5), all[:5], false},
		{"prefix a-0xff", PrefixRange("a\xff", 0), []string{"a\xff", "a\xff\xff"}, false},
		{"prefix b", PrefixRange("b", 0), []string{"b", "ba", "b\xff"}, false},
		{"prefix 0xff", PrefixRange("\xff", 0), []string{"\xff", "\xff\x00", "\xff\xff", "\xff\xff\xff"}, false},
		{"prefix 0xff 0xff", PrefixRange("\xff\xff", 0), []string{"\xff\xff", "\xff\xff\xff"}, false},
		{"prefix 0xff 0xff limited", PrefixRange("\xff\xff", 1), []string{"\xff\xff"}, true},
		{"prefix with no keys", PrefixRange("c", 0), nil, false},
		{"empty prefix", PrefixRange("", 0), all, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := d.s.Range(tt.req)
			var got []string
			for _, kv := range res.KVs {
				got = append(got, kv.Key)
				if want, _ := d.s.Get(kv.Key); kv != want {
					t.Errorf("range returned %+v, Get returns %+v", kv, want)
				}
			}
			if !slices.Equal(got, tt.want) || res.More != tt.wantMore {
				t.Fatalf("Range(%q, %q, %d) = %q more=%v, want %q more=%v", tt.req.Start, tt.req.End, tt.req.Limit, got, res.More, tt.want, tt.wantMore)
			}
			if res.Revision != d.s.Revision() {
				t.Fatalf("revision %d, store at %d", res.Revision, d.s.Revision())
			}
		})
	}
}

// TestRangePaging walks the keyspace a page at a time, continuing each page
// after the last key as RangeResult.More documents.
func TestRangePaging(t *testing.T) {
	d := newDriver(t, Config{})
	var want []string
	for i := 0; i < 25; i++ {
		k := string([]byte{byte('a' + i%5), byte(i), 0xff})
		d.do(mustPut(t, k, "v"))
		want = append(want, k)
	}
	slices.Sort(want)
	var got []string
	req := RangeRequest{Limit: 4}
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not terminate")
		}
		res := d.s.Range(req)
		for _, kv := range res.KVs {
			got = append(got, kv.Key)
		}
		if !res.More {
			break
		}
		req.Start = res.KVs[len(res.KVs)-1].Key + "\x00"
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged keys %q, want %q", got, want)
	}
}

func TestReadsOnEmptyStore(t *testing.T) {
	s := New(Config{})
	if kv, ok := s.Get("a"); ok {
		t.Fatalf("Get on empty store = %+v", kv)
	}
	if res := s.Range(RangeRequest{Limit: 10}); len(res.KVs) != 0 || res.More || res.Revision != 0 {
		t.Fatalf("Range on empty store = %+v", res)
	}
}
