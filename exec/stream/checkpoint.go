package stream

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sluicesql/sluice/exec"
)

// Snapshotter is implemented by operators whose state can be checkpointed.
type Snapshotter interface {
	// Snapshot encodes the operator's state.
	Snapshot() ([]byte, error)
	// Restore replaces the state with a snapshot; call it before the
	// first Push.
	Restore(state []byte) error
}

// Checkpoint is what a checkpoint holds: the operator state and the source
// offsets that state covers.
type Checkpoint struct {
	// Seq numbers checkpoints from 1.
	Seq int64
	// Offsets is where the source resumes (ScanSpec.From).
	Offsets exec.Offsets
	// State is the operator's Snapshot, nil for stateless pipelines.
	State []byte
}

// Checkpointer writes checkpoints to a directory atomically (temp file,
// fsync, rename), every EveryN commits or every Interval, whichever comes
// first, and reads the latest one back on start.
type Checkpointer struct {
	dir      string
	everyN   int
	interval time.Duration
	count    int
	last     time.Time
	seq      int64
}

// checkpointFile is the name of the latest checkpoint in the directory,
// and previousFile the one before it, kept for RestoreMatching.
const (
	checkpointFile = "checkpoint.gob"
	previousFile   = "checkpoint.prev.gob"
)

// NewCheckpointer returns a checkpointer for dir; everyN ≤ 0 and
// interval ≤ 0 each disable that trigger (both disabled: every commit).
func NewCheckpointer(dir string, everyN int, interval time.Duration) *Checkpointer {
	return &Checkpointer{dir: dir, everyN: everyN, interval: interval}
}

// Load reads the latest checkpoint; it returns nil, nil when there is none.
func (c *Checkpointer) Load() (*Checkpoint, error) {
	cp, err := c.load(checkpointFile)
	if cp == nil && err == nil {
		// A crash between Save's two renames leaves only the previous one.
		cp, err = c.load(previousFile)
	}
	return cp, err
}

func (c *Checkpointer) load(name string) (*Checkpoint, error) {
	data, err := os.ReadFile(filepath.Join(c.dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading checkpoint: %w", err)
	}
	var cp Checkpoint
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&cp); err != nil {
		return nil, fmt.Errorf("decoding checkpoint %s: %w", c.dir, err)
	}
	c.seq = cp.Seq
	return &cp, nil
}

// Restore loads the latest checkpoint into op (if it is a Snapshotter) and
// returns the offsets to resume the source from (nil without checkpoint).
func (c *Checkpointer) Restore(op Operator) (exec.Offsets, error) {
	return c.RestoreMatching(op, nil)
}

// RestoreMatching is Restore for a transactional sink that knows the
// source offsets its last committed transaction covered. The pipeline
// saves a checkpoint and then commits the sink; a crash between the two
// leaves the newest checkpoint one step ahead of the output. When the
// newest checkpoint's offsets differ from committed and the previous
// checkpoint's equal them, the previous one is restored, so the lost
// interval is recomputed and written again: exactly once. committed nil
// means the sink cannot tell, and the newest checkpoint is used.
func (c *Checkpointer) RestoreMatching(op Operator, committed exec.Offsets) (exec.Offsets, error) {
	cp, err := c.Load()
	if err != nil || cp == nil {
		return nil, err
	}
	if committed != nil && !coveredBy(cp.Offsets, committed) {
		prev, err := c.load(previousFile)
		if err != nil {
			return nil, err
		}
		if prev != nil && coveredBy(prev.Offsets, committed) {
			cp = prev
			c.seq = prev.Seq
		}
	}
	if s, ok := op.(Snapshotter); ok && cp.State != nil {
		if err := s.Restore(cp.State); err != nil {
			return nil, fmt.Errorf("restoring checkpoint %d: %w", cp.Seq, err)
		}
	}
	return cp.Offsets, nil
}

func (c *Checkpointer) due(now time.Time) bool {
	c.count++
	if c.everyN <= 0 && c.interval <= 0 {
		return true
	}
	if c.everyN > 0 && c.count >= c.everyN {
		return true
	}
	return c.interval > 0 && now.Sub(c.last) >= c.interval
}

// save writes op's state and offs as the next checkpoint.
func (c *Checkpointer) save(op Operator, offs exec.Offsets, now time.Time) error {
	cp := Checkpoint{Seq: c.seq + 1, Offsets: offs}
	if s, ok := op.(Snapshotter); ok {
		st, err := s.Snapshot()
		if err != nil {
			return fmt.Errorf("checkpoint snapshot: %w", err)
		}
		cp.State = st
	}
	if err := c.Save(cp); err != nil {
		return err
	}
	c.count, c.last = 0, now
	return nil
}

// Save writes cp atomically: a crash leaves either the old or the new
// checkpoint, never a torn one.
func (c *Checkpointer) Save(cp Checkpoint) error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("checkpoint dir: %w", err)
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(cp); err != nil {
		return fmt.Errorf("encoding checkpoint: %w", err)
	}
	tmp, err := os.CreateTemp(c.dir, checkpointFile+".tmp*")
	if err != nil {
		return fmt.Errorf("checkpoint temp file: %w", err)
	}
	_, werr := tmp.Write(buf.Bytes())
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing checkpoint: %w", err)
	}
	cur := filepath.Join(c.dir, checkpointFile)
	if _, err := os.Stat(cur); err == nil {
		if err := os.Rename(cur, filepath.Join(c.dir, previousFile)); err != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("keeping previous checkpoint: %w", err)
		}
	}
	if err := os.Rename(tmp.Name(), cur); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("publishing checkpoint: %w", err)
	}
	c.seq = cp.Seq
	return nil
}

// coveredBy reports whether every offset of a checkpoint equals the one
// committed for the same partition.
func coveredBy(cp, committed exec.Offsets) bool {
	for k, v := range cp {
		if c, ok := committed[k]; !ok || c != v {
			return false
		}
	}
	return true
}
