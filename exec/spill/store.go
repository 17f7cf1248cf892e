// Package spill keeps operator state that outgrew its memory budget in a
// local pebble store, as Flink keeps large keyed state in RocksDB: an
// operator moves its cold entries here and reads them back when a key
// comes back. The store is scratch space, never a checkpoint: it lives
// in a fresh directory of its own, is not synced, and is deleted on
// Close (the operator's checkpoints copy what it holds).
package spill

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// dirPattern names a store's directory inside the spill directory, so a
// crashed process's leftovers are recognisable (removeStale).
const dirPattern = "sluice-spill-*"

// staleAfter is how old an unlocked store directory must be before Open
// removes it: one younger may be another process's store between its
// creation and pebble's lock.
const staleAfter = time.Minute

// Store is one operator instance's spilled entries: byte keys to byte
// values. It is not safe for concurrent use (each operator instance opens
// its own).
type Store struct {
	db  *pebble.DB
	dir string
	// memtable is pebble's memtable size; Commit splits batches to
	// fit in one (a larger batch becomes a flushable batch, memory
	// Memory does not count).
	memtable int64
	memory   int64 // Memory
}

// The bounds of a store's memtable and block cache (Open sizes them
// from the memory it is given): below minMemTable pebble flushes a
// file per few kilobytes written; above the maxima a store only holds
// more of what the budget's operators would hold themselves.
const (
	minMemTable = 16 << 10
	maxMemTable = 4 << 20
	minCache    = 16 << 10
	maxCache    = 8 << 20
)

// Open creates a store in a new directory inside dir (created if
// missing). memory is what the caller's budget gives the store itself:
// a quarter of it (within bounds) sizes pebble's memtables (a sixteenth
// each; pebble keeps up to two) and block cache (an eighth), so that
// what pebble holds, Memory, stays a known share that the caller counts
// against its budget.
func Open(dir string, memory int64) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("spill directory: %w", err)
	}
	removeStale(dir)
	d, err := os.MkdirTemp(dir, dirPattern)
	if err != nil {
		return nil, fmt.Errorf("spill directory: %w", err)
	}
	memtable := min(max(memory/16, minMemTable), maxMemTable)
	cache := min(max(memory/8, minCache), maxCache)
	opts := &pebble.Options{
		// Scratch: a crash loses it with the process, whose restart
		// restores from the checkpoint, so neither a WAL nor syncs.
		DisableWAL:                  true,
		MemTableSize:                uint64(memtable),
		MemTableStopWritesThreshold: 2,
		CacheSize:                   cache,
		Logger:                      quietLogger{},
	}
	for i := range opts.Levels {
		// Most lookups are of keys that were never spilled.
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(d, opts)
	if err != nil {
		os.RemoveAll(d)
		return nil, fmt.Errorf("spill store %s: %w", d, err)
	}
	return &Store{db: db, dir: d, memtable: memtable, memory: 2*memtable + cache}, nil
}

// Dir is the store's own directory.
func (s *Store) Dir() string { return s.dir }

// Memory is the most the store holds in memory (0 for a nil store): its memtables (the one
// being written and one being flushed; a third stalls writes until the
// flush ends) and its block cache. Counted against the budget, so a
// spilling operator's budget covers pebble too.
func (s *Store) Memory() int64 {
	if s == nil {
		return 0
	}
	return s.memory
}

// InUse is what the store holds in memory now (pebble's metrics; see
// Memory for the bound).
func (s *Store) InUse() int64 {
	m := s.db.Metrics()
	return int64(m.MemTable.Size) + m.BlockCache.Size
}

// Get returns a copy of key's value; ok false when key is absent.
func (s *Store) Get(key []byte) (val []byte, ok bool, err error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("spill store %s: %w", s.dir, err)
	}
	val = append([]byte(nil), v...)
	closer.Close()
	return val, true, nil
}

// Batch collects writes that Commit applies. A batch that outgrows a
// quarter of a memtable is applied then and continues empty, so it never takes
// more memory than the memtables Memory counts (pebble would keep a
// larger one whole, as a flushable batch): the store is scratch, so
// applying it in pieces loses nothing, and only Abort after such a
// piece leaves part of it applied (the operator fails then anyway).
type Batch struct {
	s *Store
	b *pebble.Batch
}

// NewBatch starts a batch of writes.
func (s *Store) NewBatch() *Batch { return &Batch{s: s, b: s.db.NewBatch()} }

// Set puts key's value (both are copied).
func (b *Batch) Set(key, val []byte) error {
	if err := b.b.Set(key, val, nil); err != nil {
		return err
	}
	return b.flushFull()
}

// Delete removes key.
func (b *Batch) Delete(key []byte) error {
	if err := b.b.Delete(key, nil); err != nil {
		return err
	}
	return b.flushFull()
}

// flushFull applies the batch once it holds a quarter of a memtable
// (pebble's own measure, which adds its skiplist's nodes, is about twice
// the batch's bytes for small entries; half a memtable makes it a
// flushable batch).
func (b *Batch) flushFull() error {
	if int64(b.b.Len()) < b.s.memtable/4 {
		return nil
	}
	err := b.b.Commit(pebble.NoSync)
	b.b.Close()
	b.b = b.s.db.NewBatch()
	if err != nil {
		return fmt.Errorf("spill store %s: %w", b.s.dir, err)
	}
	return nil
}

// Empty reports whether the batch holds no write.
func (b *Batch) Empty() bool { return b.b.Empty() }

// Commit applies the batch and releases it; the batch is unusable after.
func (b *Batch) Commit() error {
	defer b.b.Close()
	if err := b.b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("spill store %s: %w", b.s.dir, err)
	}
	return nil
}

// Abort drops the batch's writes not yet applied.
func (b *Batch) Abort() { b.b.Close() }

// Scan calls fn for every entry in key order; the slices are valid only
// during the call. An error from fn stops the scan and is returned.
func (s *Store) Scan(fn func(key, val []byte) error) error {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return fmt.Errorf("spill store %s: %w", s.dir, err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err == nil {
			err = fn(it.Key(), v)
		}
		if err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("spill store %s: %w", s.dir, err)
	}
	return nil
}

// Close closes the store and deletes its directory; safe on nil.
func (s *Store) Close() error {
	if s == nil || s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	if rerr := os.RemoveAll(s.dir); err == nil && rerr != nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("spill store %s: %w", s.dir, err)
	}
	return nil
}

// removeStale deletes the stores in dir that no process holds open: a
// process killed with its stores open (kill -9) leaves them behind, and
// its restart restores from the checkpoint, not from them. A store in use
// holds its pebble LOCK file, so only unlocked ones go.
func removeStale(dir string) {
	old, _ := filepath.Glob(filepath.Join(dir, dirPattern))
	for _, d := range old {
		fi, err := os.Stat(d)
		if err != nil || !fi.IsDir() || time.Since(fi.ModTime()) < staleAfter {
			continue
		}
		lock, err := vfs.Default.Lock(filepath.Join(d, "LOCK"))
		if err != nil {
			continue // open in some process
		}
		os.RemoveAll(d)
		lock.Close()
	}
}

// quietLogger drops pebble's informational and error logs: the store is
// scratch and every failure reaches the operator as an error. Fatalf
// (pebble's broken-invariant exit) panics with the message.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)         {}
func (quietLogger) Errorf(string, ...any)        {}
func (quietLogger) Fatalf(f string, args ...any) { panic(fmt.Sprintf("spill store: "+f, args...)) }
