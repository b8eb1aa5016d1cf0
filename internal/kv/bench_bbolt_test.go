//go:build kvcompare

// The bbolt comparison behind DESIGN.md's choice of an in-memory tree. It
// needs go.etcd.io/bbolt, which nothing else in raftkv imports, hence the
// build tag:
//
//	go test -tags kvcompare -run '^$' -bench . -benchmem ./internal/kv/
package kv

import (
	"encoding/binary"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/raftkv/raftkv/internal/raft"
)

var (
	boltData = []byte("kv")
	boltMeta = []byte("meta")
)

// boltStore is the state machine as it would look on bbolt: one bucket of
// keys whose values carry create/mod/version ahead of the user value, and a
// meta bucket with the applied index and revision, updated in the same
// transaction as the data so that a crash never separates them.
type boltStore struct {
	db       *bolt.DB
	revision uint64
}

func openBolt(b *testing.B, noSync bool) *boltStore {
	b.Helper()
	db, err := bolt.Open(filepath.Join(b.TempDir(), "kv.db"), 0o600, &bolt.Options{NoSync: noSync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	bs := &boltStore{db: db}
	const batch = 10_000
	for start := 0; start < benchKeys; start += batch {
		err := db.Update(func(tx *bolt.Tx) error {
			data, err := tx.CreateBucketIfNotExists(boltData)
			if err != nil {
				return err
			}
			if _, err := tx.CreateBucketIfNotExists(boltMeta); err != nil {
				return err
			}
			for i := start; i < start+batch; i++ {
				bs.revision++
				if err := data.Put([]byte(benchKey(i)), boltValue(bs.revision, bs.revision, 1, benchValue)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return bs
}

func boltValue(create, mod, version uint64, value string) []byte {
	v := binary.AppendUvarint(nil, create)
	v = binary.AppendUvarint(v, mod)
	v = binary.AppendUvarint(v, version)
	return append(v, value...)
}

func boltParse(v []byte) (create, mod, version uint64, value []byte) {
	create, n1 := binary.Uvarint(v)
	mod, n2 := binary.Uvarint(v[n1:])
	version, n3 := binary.Uvarint(v[n1+n2:])
	return create, mod, version, v[n1+n2+n3:]
}

// apply is the bbolt twin of Store.Apply for an unconditional Put.
func (bs *boltStore) apply(tx *bolt.Tx, e *raft.Entry) error {
	c, err := DecodeCommand(e.Data)
	if err != nil {
		return err
	}
	data := tx.Bucket(boltData)
	key := []byte(c.Key)
	bs.revision++
	create, version := bs.revision, uint64(1)
	if cur := data.Get(key); cur != nil {
		cc, _, cv, _ := boltParse(cur)
		create, version = cc, cv+1
	}
	if err := data.Put(key, boltValue(create, bs.revision, version, c.Value)); err != nil {
		return err
	}
	var meta [16]byte
	binary.BigEndian.PutUint64(meta[:8], e.Index)
	binary.BigEndian.PutUint64(meta[8:], bs.revision)
	return tx.Bucket(boltMeta).Put([]byte("state"), meta[:])
}

// BenchmarkBoltPut is BenchmarkPut on bbolt: one transaction per applied
// entry (fsync: bbolt's default durable commit; nosync: the WAL is trusted
// for durability and the commit only writes pages), and, as the most
// favourable case, 100 entries per transaction without fsync.
func BenchmarkBoltPut(b *testing.B) {
	for _, tc := range []struct {
		name   string
		noSync bool
		batch  int
	}{{"fsync", false, 1}, {"nosync", true, 1}, {"nosync-batch100", true, 100}} {
		b.Run(tc.name, func(b *testing.B) {
			bs := openBolt(b, tc.noSync)
			es := benchPutEntries(b.N, benchKeys+1, false)
			b.ReportAllocs()
			b.ResetTimer()
			for start := 0; start < len(es); start += tc.batch {
				err := bs.db.Update(func(tx *bolt.Tx) error {
					for i := start; i < min(start+tc.batch, len(es)); i++ {
						if err := bs.apply(tx, &es[i]); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBoltGet is BenchmarkGet on bbolt: a read transaction, a lookup,
// and a copy of the value (bbolt's slices die with the transaction).
func BenchmarkBoltGet(b *testing.B) {
	bs := openBolt(b, true)
	order := benchOrder(1 << 16)
	keys := make([][]byte, len(order))
	for i, k := range order {
		keys[i] = []byte(benchKey(k))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		err := bs.db.View(func(tx *bolt.Tx) error {
			v := tx.Bucket(boltData).Get(keys[i&(len(keys)-1)])
			if v == nil {
				return fmt.Errorf("missing key")
			}
			_, _, _, val := boltParse(v)
			_ = string(val)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBoltRange100 is BenchmarkRange100 on bbolt: a cursor seek and
// 100 steps, copying each key and value out of the transaction.
func BenchmarkBoltRange100(b *testing.B) {
	bs := openBolt(b, true)
	order := benchOrder(1 << 16)
	starts := make([][]byte, len(order))
	for i, k := range order {
		starts[i] = []byte(benchKey(min(k, benchKeys-benchRange)))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		err := bs.db.View(func(tx *bolt.Tx) error {
			out := make([]KeyValue, 0, benchRange)
			cur := tx.Bucket(boltData).Cursor()
			for k, v := cur.Seek(starts[i&(len(starts)-1)]); k != nil && len(out) < benchRange; k, v = cur.Next() {
				create, mod, version, val := boltParse(v)
				out = append(out, KeyValue{Key: string(k), Value: string(val), CreateRevision: create, ModRevision: mod, Version: version})
			}
			if len(out) != benchRange {
				return fmt.Errorf("got %d keys", len(out))
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBoltSnapshot is BenchmarkSnapshot on bbolt: Tx.WriteTo, its
// consistent hot copy of the whole file. MB/s is file bytes.
func BenchmarkBoltSnapshot(b *testing.B) {
	bs := openBolt(b, true)
	var size int64
	bs.db.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil })
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		err := bs.db.View(func(tx *bolt.Tx) error {
			_, err := tx.WriteTo(io.Discard)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// TestBoltTwinAgrees keeps the comparison honest: the bbolt twin must
// compute the same key metadata as the Store for the same entries.
func TestBoltTwinAgrees(t *testing.T) {
	s := New(Config{})
	db, err := bolt.Open(filepath.Join(t.TempDir(), "kv.db"), 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bs := &boltStore{db: db}
	if err := db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucket(boltData); err != nil {
			return err
		}
		_, err := tx.CreateBucket(boltMeta)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for i, k := range []string{"a", "b", "a", "a", "c", "b"} {
		c := Command{Op: OpPut, Key: k, Value: fmt.Sprint(i)}
		e := raft.Entry{Index: uint64(i + 1), Type: raft.EntryNormal, Data: AppendCommand(nil, &c)}
		s.Apply(e)
		if err := db.Update(func(tx *bolt.Tx) error { return bs.apply(tx, &e) }); err != nil {
			t.Fatal(err)
		}
	}
	db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(boltData).ForEach(func(k, v []byte) error {
			create, mod, version, val := boltParse(v)
			got := KeyValue{Key: string(k), Value: string(val), CreateRevision: create, ModRevision: mod, Version: version}
			if want, _ := s.Get(string(k)); got != want {
				t.Errorf("bolt %+v, store %+v", got, want)
			}
			return nil
		})
	})
}
