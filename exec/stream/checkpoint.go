package stream

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
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

// PartedSnapshotter is an operator whose state is several named parts
// (a Graph: one per stateful node; a parallel node: one per instance).
// Checkpoints store each part under its own name, so each operator
// restores exactly its own. Preferred over Snapshotter when both are
// implemented.
type PartedSnapshotter interface {
	// SnapshotParts encodes each part; names are stable across restarts
	// of the same query.
	SnapshotParts() ([]OperatorState, error)
	// RestoreParts replaces the state with the parts SnapshotParts wrote;
	// call it before the first Push. A part of a name it does not know is
	// an error (the checkpoint is of another query).
	RestoreParts(parts []OperatorState) error
}

// Checkpoint is what one checkpoint holds. It is not tied to a driver: a
// query with several operators, sources and sinks stores one named part
// for each.
type Checkpoint struct {
	// Seq numbers checkpoints from 1 (exec.CheckpointID).
	Seq int64
	// Fingerprint identifies the query that wrote the checkpoint (its
	// physical plan and schemas); a checkpoint is refused by a query with
	// a different one.
	Fingerprint string
	// Offsets is where each source resumes (ScanSpec.From), by source
	// name.
	Offsets map[string]exec.Offsets
	// State is each stateful operator's Snapshot, by operator name.
	State []OperatorState
	// Sinks is each two-phase sink's pending-commit handle
	// (exec.TwoPhaseWriter.PreCommit), by sink name.
	Sinks map[string][]byte

	// chains are the state files of each part as the manifest names
	// them, so the next checkpoint can chain a delta to them.
	chains map[string]partRef
}

// OperatorState is one operator's part of a checkpoint.
type OperatorState struct {
	// Name identifies the operator within the query, stable across
	// restarts of the same query.
	Name string
	// Data is the operator's Snapshot; in a loaded checkpoint whose part
	// is incremental, the full snapshot its Deltas apply to.
	Data []byte
	// Delta, in a checkpoint being saved, marks Data as a delta
	// (DeltaSnapshotter.SnapshotDelta): only what changed since the same
	// part in the checkpoint before, which Save chains it to.
	Delta bool
	// Deltas, in a loaded checkpoint, are the part's deltas in the order
	// they were taken, to apply over Data (see RestorePart).
	Deltas [][]byte
}

// Part returns the state of the operator named name, or nil.
func (cp *Checkpoint) Part(name string) []byte {
	for _, s := range cp.State {
		if s.Name == name {
			return s.Data
		}
	}
	return nil
}

// Names of the single source, operator and sink of a Pipeline in its
// checkpoints.
const (
	PipelineSource   = "source"
	PipelineOperator = "op"
	PipelineSink     = "sink"
)

// DefaultRetain is how many complete checkpoints a Checkpointer keeps
// unless told otherwise: the newest and two to fall back on.
const DefaultRetain = 3

// errOlderFormat marks a manifest of an earlier format version: not
// damage to skip for an older checkpoint, but a directory this sluice
// cannot resume from.
var errOlderFormat = errors.New("written by an earlier sluice version")

// ErrCheckpointMismatch is returned (wrapped) when a checkpoint directory
// was written by a different query.
var ErrCheckpointMismatch = errors.New("checkpoint was written by a different query")

// ErrNoUsableCheckpoint is returned (wrapped) when a checkpoint directory
// holds checkpoints but none of them is complete and intact.
var ErrNoUsableCheckpoint = errors.New("no usable checkpoint")

// Checkpointer writes checkpoints to a directory and reads the newest
// intact one back on start.
//
// Layout: each checkpoint is a manifest chk-<seq>.manifest and one state
// file state-<seq>-<n>.bin per operator part. The manifest's first line
// is "sluice-checkpoint <version> <sha256 of the rest>", the rest is JSON
// naming the query's fingerprint, the source offsets, the sinks' pending
// handles and every state file with its size and SHA-256. State files are
// written and fsynced first, then the manifest under a temporary name,
// fsynced and renamed: a crash leaves either the old or the new
// checkpoint, and a checkpoint whose manifest or state files are torn,
// truncated or altered fails its checksums and is skipped for the one
// before it. The newest Retain checkpoints are kept, older ones deleted.
type Checkpointer struct {
	dir      string
	everyN   int
	interval time.Duration
	count    int
	last     time.Time
	seq      int64

	// Fingerprint, when set, is stored in every checkpoint and must match
	// the fingerprint of a checkpoint to restore it.
	Fingerprint string
	// Retain is how many checkpoints to keep (DefaultRetain if ≤ 0).
	Retain int
	// CompactEvery is how many deltas a part's chain may hold before its
	// next checkpoint is a full snapshot again (DefaultCompactEvery if 0;
	// negative: every checkpoint is full). See SnapshotPolicy.
	CompactEvery int

	// chains are the state files of each part of the last checkpoint
	// saved or restored into the operator: what the next delta extends.
	chains map[string]partRef

	restored *Checkpoint
	skipped  []error

	// The last Save, for metrics (read from other goroutines).
	saves, lastTook, lastBytes atomic.Int64
}

// LastSave reports the checkpoints written so far, and how long the last
// one took to write and sync and how many bytes it wrote. Safe to call
// from any goroutine.
func (c *Checkpointer) LastSave() (saves int64, took time.Duration, bytes int64) {
	return c.saves.Load(), time.Duration(c.lastTook.Load()), c.lastBytes.Load()
}

const (
	manifestPrefix = "chk-"
	manifestSuffix = ".manifest"
	stateSuffix    = ".bin"
	// manifestMagic starts every manifest; formatVersion is the layout
	// of the JSON after it and of the operator state files it names.
	// Version 2 added incremental parts (deltas). Version 3: aggregate
	// state is each group's exec.AggState.Save bytes (the one
	// aggregation core), which versions 1 and 2 (per-function Value
	// accumulators) cannot be read as. Version 4: a parallel operator's
	// instances own the keys of exec.HashRows' partition function (a
	// version 3 part holds the keys of the earlier row-encoding hash, so
	// restoring it would put a key's state in another instance than its
	// rows). Version 5: HashRows hashes short strings by their words
	// (version 4 hashed them with xxh3), the same reason again.
	manifestMagic = "sluice-checkpoint"
	formatVersion = 5
	// minFormatVersion is the oldest layout this version reads: older
	// ones are refused as an earlier sluice's (errOlderFormat).
	minFormatVersion = 5
	// legacyFile is the single-file checkpoint of earlier versions.
	legacyFile = "checkpoint.gob"
)

// NewCheckpointer returns a checkpointer for dir; everyN ≤ 0 and
// interval ≤ 0 each disable that trigger (both disabled: every commit).
func NewCheckpointer(dir string, everyN int, interval time.Duration) *Checkpointer {
	return &Checkpointer{dir: dir, everyN: everyN, interval: interval}
}

// Dir is the checkpoint directory.
func (c *Checkpointer) Dir() string { return c.dir }

// Restored is the checkpoint the last Load returned, nil if none.
func (c *Checkpointer) Restored() *Checkpoint { return c.restored }

// Skipped lists the checkpoints the last Load passed over because they
// were incomplete or corrupted, newest first, each error naming its file.
func (c *Checkpointer) Skipped() []error { return c.skipped }

// manifest is the JSON body of a manifest file.
type manifest struct {
	Seq         int64                   `json:"seq"`
	Fingerprint string                  `json:"fingerprint,omitempty"`
	Created     time.Time               `json:"created"`
	Offsets     map[string]exec.Offsets `json:"offsets"`
	Parts       []partRef               `json:"parts,omitempty"`
	Sinks       map[string][]byte       `json:"sinks,omitempty"`
}

// partRef names an operator's state file and, for an incremental part,
// the delta files to apply over it, oldest first.
type partRef struct {
	Name   string    `json:"name"`
	File   string    `json:"file"`
	Size   int64     `json:"size"`
	SHA256 string    `json:"sha256"`
	Deltas []fileRef `json:"deltas,omitempty"`
}

// fileRef is one state file with its size and checksum.
type fileRef struct {
	File   string `json:"file"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

func manifestName(seq int64) string {
	return fmt.Sprintf("%s%010d%s", manifestPrefix, seq, manifestSuffix)
}

// manifests lists the sequence numbers of the manifests in dir, newest
// first.
func (c *Checkpointer) manifests() ([]int64, error) {
	ents, err := os.ReadDir(c.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading checkpoint directory %s: %w", c.dir, err)
	}
	var seqs []int64
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, manifestPrefix) || !strings.HasSuffix(n, manifestSuffix) {
			continue
		}
		s, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(n, manifestPrefix), manifestSuffix), 10, 64)
		if err == nil && s > 0 {
			seqs = append(seqs, s)
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] > seqs[j] })
	return seqs, nil
}

// Load reads the newest intact checkpoint; it returns nil, nil when the
// directory holds none. Corrupted or incomplete checkpoints are skipped
// (see Skipped) for the previous one; when every checkpoint is damaged it
// fails with ErrNoUsableCheckpoint rather than start from scratch, and a
// checkpoint of a different query fails with ErrCheckpointMismatch.
func (c *Checkpointer) Load() (*Checkpoint, error) {
	cps, err := c.loadAll(1)
	if err != nil || len(cps) == 0 {
		return nil, err
	}
	return cps[0], nil
}

// loadAll reads up to max intact checkpoints, newest first (max ≤ 0: all).
func (c *Checkpointer) loadAll(max int) ([]*Checkpoint, error) {
	c.restored, c.skipped = nil, nil
	seqs, err := c.manifests()
	if err != nil {
		return nil, err
	}
	if len(seqs) == 0 {
		if _, err := os.Stat(filepath.Join(c.dir, legacyFile)); err == nil {
			return nil, fmt.Errorf("checkpoint directory %s holds a checkpoint of an earlier sluice version (%s), which this one cannot read: delete the directory or use a new one to start fresh", c.dir, legacyFile)
		}
		return nil, nil
	}
	var out []*Checkpoint
	for _, s := range seqs {
		path := filepath.Join(c.dir, manifestName(s))
		cp, err := c.readCheckpoint(path)
		if errors.Is(err, errOlderFormat) {
			return nil, fmt.Errorf("%w, which this one cannot read: delete the directory %s or use a new checkpoint directory to start fresh", err, c.dir)
		}
		if err != nil {
			c.skipped = append(c.skipped, err)
			continue
		}
		if cp.Seq != s {
			c.skipped = append(c.skipped, fmt.Errorf("checkpoint %s: names sequence %d", path, cp.Seq))
			continue
		}
		if c.Fingerprint != "" && cp.Fingerprint != c.Fingerprint {
			return nil, fmt.Errorf("checkpoint %s: %w (the SQL or a schema changed since it was taken): delete the directory %s or use a new checkpoint directory to start fresh", path, ErrCheckpointMismatch, c.dir)
		}
		out = append(out, cp)
		if max > 0 && len(out) >= max {
			break
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w in %s: %w; delete the directory or use a new one to start fresh", ErrNoUsableCheckpoint, c.dir, errors.Join(c.skipped...))
	}
	// Damaged checkpoints newer than the one restored are moved aside
	// (kept for inspection): left in place they would count against
	// Retain and push out the intact ones.
	for _, s := range seqs {
		if s <= out[0].Seq {
			break
		}
		name := filepath.Join(c.dir, manifestName(s))
		os.Rename(name, name+".corrupt")
	}
	c.restored = out[0]
	c.seq = max64(c.seq, seqs[0])
	return out, nil
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// readCheckpoint reads and verifies one manifest and its state files.
func (c *Checkpointer) readCheckpoint(path string) (*Checkpoint, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	m, err := DecodeManifest(data)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	cp := &Checkpoint{Seq: m.Seq, Fingerprint: m.Fingerprint, Offsets: m.Offsets, Sinks: m.Sinks, chains: map[string]partRef{}}
	for _, p := range m.Parts {
		st, err := c.readStateFile(path, p.Name, fileRef{File: p.File, Size: p.Size, SHA256: p.SHA256})
		if err != nil {
			return nil, err
		}
		part := OperatorState{Name: p.Name, Data: st}
		for _, d := range p.Deltas {
			st, err := c.readStateFile(path, p.Name, d)
			if err != nil {
				return nil, err
			}
			part.Deltas = append(part.Deltas, st)
		}
		cp.State = append(cp.State, part)
		cp.chains[p.Name] = p
	}
	return cp, nil
}

// readStateFile reads one state file a manifest names and checks its
// size and checksum.
func (c *Checkpointer) readStateFile(manifest, part string, f fileRef) ([]byte, error) {
	if filepath.Base(f.File) != f.File || f.File == "." || f.File == ".." {
		return nil, fmt.Errorf("checkpoint %s: state file %q is not in the checkpoint directory", manifest, f.File)
	}
	sp := filepath.Join(c.dir, f.File)
	st, err := os.ReadFile(sp)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: state of %q: %w", manifest, part, err)
	}
	if int64(len(st)) != f.Size {
		return nil, fmt.Errorf("checkpoint %s: state file %s has %d bytes, the manifest says %d (truncated?)", manifest, sp, len(st), f.Size)
	}
	if sum := sha256.Sum256(st); hex.EncodeToString(sum[:]) != f.SHA256 {
		return nil, fmt.Errorf("checkpoint %s: state file %s fails its checksum (corrupted)", manifest, sp)
	}
	return st, nil
}

// DecodeManifest parses and verifies a manifest file's bytes: the magic,
// the format version and the checksum of the body. It never panics,
// whatever the input.
func DecodeManifest(data []byte) (*manifest, error) {
	nl := bytes.IndexByte(data, '\n')
	if nl < 0 {
		return nil, errors.New("not a checkpoint manifest (no header line; truncated?)")
	}
	head := strings.Fields(string(data[:nl]))
	if len(head) != 3 || head[0] != manifestMagic {
		return nil, errors.New("not a checkpoint manifest (bad header)")
	}
	v, err := strconv.Atoi(head[1])
	if err != nil {
		return nil, fmt.Errorf("not a checkpoint manifest (version %q)", head[1])
	}
	if v < minFormatVersion && v > 0 {
		return nil, fmt.Errorf("checkpoint format version %d %w (this one reads version %d)", v, errOlderFormat, formatVersion)
	}
	if v < minFormatVersion || v > formatVersion {
		return nil, fmt.Errorf("checkpoint format version %d, this sluice reads versions %d to %d", v, minFormatVersion, formatVersion)
	}
	body := data[nl+1:]
	if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != head[2] {
		return nil, errors.New("manifest fails its checksum (truncated or corrupted)")
	}
	var m manifest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decoding manifest: %w", err)
	}
	if m.Seq <= 0 {
		return nil, fmt.Errorf("manifest has sequence %d", m.Seq)
	}
	seen := map[string]bool{}
	for _, p := range m.Parts {
		if p.Name == "" || seen[p.Name] {
			return nil, fmt.Errorf("manifest names operator part %q twice or not at all", p.Name)
		}
		seen[p.Name] = true
		if p.Size < 0 {
			return nil, fmt.Errorf("manifest gives part %q a negative size", p.Name)
		}
		if v < 2 && len(p.Deltas) > 0 {
			return nil, fmt.Errorf("manifest of version %d gives part %q deltas", v, p.Name)
		}
		for _, d := range p.Deltas {
			if d.Size < 0 {
				return nil, fmt.Errorf("manifest gives a delta of part %q a negative size", p.Name)
			}
		}
	}
	return &m, nil
}

// encodeManifest is DecodeManifest's inverse.
func encodeManifest(m *manifest) ([]byte, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding checkpoint manifest: %w", err)
	}
	sum := sha256.Sum256(body)
	out := fmt.Appendf(nil, "%s %d %s\n", manifestMagic, formatVersion, hex.EncodeToString(sum[:]))
	return append(out, body...), nil
}

// Restore loads the newest checkpoint, restores a Pipeline's operator
// (if it is a Snapshotter) from it and returns the offsets its source
// resumes from (nil without a checkpoint).
func (c *Checkpointer) Restore(op Operator) (exec.Offsets, error) {
	cp, err := c.Load()
	if err != nil || cp == nil {
		return nil, err
	}
	if err := restoreOp(op, cp); err != nil {
		return nil, err
	}
	c.chains = cp.chains
	return cp.Offsets[PipelineSource], nil
}

func restoreOp(op Operator, cp *Checkpoint) error {
	if ps, ok := op.(PartedSnapshotter); ok {
		if len(cp.State) == 0 {
			return nil
		}
		if err := ps.RestoreParts(cp.State); err != nil {
			return fmt.Errorf("restoring checkpoint %d: %w", cp.Seq, err)
		}
		return nil
	}
	s, ok := op.(Snapshotter)
	if !ok {
		return nil
	}
	i := slices.IndexFunc(cp.State, func(p OperatorState) bool { return p.Name == PipelineOperator })
	if i < 0 {
		return nil
	}
	if err := RestorePart(s, cp.State[i]); err != nil {
		return fmt.Errorf("restoring checkpoint %d: %w", cp.Seq, err)
	}
	return nil
}

// RestoreMatching is Restore for a sink that knows the source offsets
// its last committed output covered but cannot take part in a two-phase
// commit: it restores the newest checkpoint whose offsets that output
// covers, so an interval checkpointed but not committed is recomputed
// rather than lost. committed nil means the sink cannot tell, and the
// newest checkpoint is used.
func (c *Checkpointer) RestoreMatching(op Operator, committed exec.Offsets) (exec.Offsets, error) {
	cps, err := c.loadAll(0)
	if err != nil || len(cps) == 0 {
		return nil, err
	}
	cp := cps[0]
	if committed != nil {
		for _, x := range cps {
			if coveredBy(x.Offsets[PipelineSource], committed) {
				cp = x
				break
			}
		}
	}
	c.restored = cp
	if err := restoreOp(op, cp); err != nil {
		return nil, err
	}
	c.chains = cp.chains
	return cp.Offsets[PipelineSource], nil
}

// NextSeq is the sequence number the next Save takes.
func (c *Checkpointer) NextSeq() int64 {
	if c.seq == 0 {
		if seqs, err := c.manifests(); err == nil && len(seqs) > 0 {
			c.seq = seqs[0]
		}
	}
	return c.seq + 1
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

// dueByTime reports whether the interval trigger has passed, without
// counting a commit (idle input: nothing new arrived).
func (c *Checkpointer) dueByTime(now time.Time) bool {
	return c.interval <= 0 || now.Sub(c.last) >= c.interval
}

func (c *Checkpointer) saved(now time.Time) { c.count, c.last = 0, now }

// Save writes cp atomically (see Checkpointer) and prunes checkpoints
// beyond Retain. cp.Seq must be above every checkpoint in the directory;
// zero takes NextSeq. cp.Fingerprint defaults to c.Fingerprint.
func (c *Checkpointer) Save(cp Checkpoint) error {
	start := time.Now()
	var written int64
	if cp.Seq == 0 {
		cp.Seq = c.NextSeq()
	}
	if cp.Fingerprint == "" {
		cp.Fingerprint = c.Fingerprint
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("checkpoint directory: %w", err)
	}
	m := &manifest{Seq: cp.Seq, Fingerprint: cp.Fingerprint, Created: time.Now().UTC(), Offsets: cp.Offsets, Sinks: cp.Sinks}
	if m.Offsets == nil {
		m.Offsets = map[string]exec.Offsets{}
	}
	chains := map[string]partRef{}
	for i, st := range cp.State {
		var f fileRef
		if !st.Delta || len(st.Data) > 0 { // an empty delta: nothing changed, nothing to write
			name := fmt.Sprintf("state-%010d-%d%s", cp.Seq, i, stateSuffix)
			if err := writeFileSync(c.dir, name, st.Data); err != nil {
				return fmt.Errorf("writing checkpoint state: %w", err)
			}
			written += int64(len(st.Data))
			sum := sha256.Sum256(st.Data)
			f = fileRef{File: name, Size: int64(len(st.Data)), SHA256: hex.EncodeToString(sum[:])}
		}
		ref, err := c.chain(st, f)
		if err != nil {
			return err
		}
		m.Parts = append(m.Parts, ref)
		chains[st.Name] = ref
	}
	data, err := encodeManifest(m)
	if err != nil {
		return err
	}
	if err := writeFileSync(c.dir, manifestName(cp.Seq), data); err != nil {
		return fmt.Errorf("publishing checkpoint: %w", err)
	}
	c.seq, c.chains = cp.Seq, chains
	c.lastTook.Store(int64(time.Since(start)))
	c.lastBytes.Store(written + int64(len(data)))
	c.saves.Add(1)
	return c.prune()
}

// writeFileSync writes name in dir through a temporary file, fsyncs it,
// renames it into place and fsyncs the directory.
func writeFileSync(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory, so the renames and creations in it survive
// a crash of the machine.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	serr := d.Sync()
	cerr := d.Close()
	return errors.Join(serr, cerr)
}

// prune deletes checkpoints beyond Retain, state files no kept manifest
// names, and temporary files a crash left.
func (c *Checkpointer) prune() error {
	keep := c.Retain
	if keep <= 0 {
		keep = DefaultRetain
	}
	seqs, err := c.manifests()
	if err != nil {
		return err
	}
	if len(seqs) > keep {
		for _, s := range seqs[keep:] {
			if err := os.Remove(filepath.Join(c.dir, manifestName(s))); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("pruning checkpoint: %w", err)
			}
		}
		seqs = seqs[:keep]
	}
	oldest := seqs[len(seqs)-1]
	needed := c.referenced(seqs)
	ents, err := os.ReadDir(c.dir)
	if err != nil {
		return fmt.Errorf("pruning checkpoints: %w", err)
	}
	for _, e := range ents {
		n := e.Name()
		var stale bool
		switch {
		case strings.HasPrefix(n, "state-") && strings.HasSuffix(n, stateSuffix):
			// A state file belongs to the checkpoint its name numbers,
			// and to every later one whose chain of deltas it bases.
			num, _, _ := strings.Cut(strings.TrimPrefix(n, "state-"), "-")
			s, err := strconv.ParseInt(num, 10, 64)
			stale = err == nil && s < oldest && !needed[n]
		case strings.HasPrefix(n, ".") && strings.Contains(n, ".tmp-"):
			stale = true // a save that crashed; saves do not overlap
		}
		if stale {
			os.Remove(filepath.Join(c.dir, n))
		}
	}
	return nil
}

// saveFor checkpoints a Pipeline: its operator's state and its source's
// offsets, with the sink's pending handle when it has one.
func (c *Checkpointer) saveFor(op Operator, offs exec.Offsets, sinkHandle []byte, seq int64) error {
	cp := Checkpoint{Seq: seq, Offsets: map[string]exec.Offsets{PipelineSource: offs}}
	if ps, ok := op.(PartedSnapshotter); ok {
		var parts []OperatorState
		var err error
		if dp, ok := op.(DeltaPartedSnapshotter); ok {
			parts, err = dp.SnapshotPartsDelta(c.SnapshotPolicy())
		} else {
			parts, err = ps.SnapshotParts()
		}
		if err != nil {
			return fmt.Errorf("checkpoint snapshot: %w", err)
		}
		cp.State = parts
	} else if s, ok := op.(Snapshotter); ok {
		st, err := SnapshotPart(s, PipelineOperator, c.SnapshotPolicy())
		if err != nil {
			return fmt.Errorf("checkpoint snapshot: %w", err)
		}
		if st.Data != nil {
			cp.State = []OperatorState{st}
		}
	}
	if sinkHandle != nil {
		cp.Sinks = map[string][]byte{PipelineSink: sinkHandle}
	}
	return c.Save(cp)
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

// recoverSink hands a two-phase sink the handle of the restored
// checkpoint (nil when starting fresh).
func recoverSink(ctx context.Context, w exec.TwoPhaseWriter, restored *Checkpoint) error {
	var h []byte
	if restored != nil {
		h = restored.Sinks[PipelineSink]
	}
	if err := w.Recover(ctx, h); err != nil {
		if restored == nil {
			return err // a fresh start: the sink's own refusal says it all
		}
		return fmt.Errorf("resuming the sink from checkpoint %d: %w", restored.Seq, err)
	}
	return nil
}
