package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/exec"
)

// Reader is one scan of a Kafka source. Next is called from one
// goroutine; Offsets, Partitions, Skipped and CommitOffsets may be called
// from others (group rebalances also change state in the background).
type Reader struct {
	src     *Source
	spec    exec.ScanSpec
	batch   int
	bb      *batchBuilder
	upsert  *upsertValues // bb's decoder for upsert-json (its state), else nil
	cl      *kgo.Client
	adm     *kadm.Client
	grouped bool
	// instance is the static group membership id ('group.instance.id',
	// else ScanSpec.Instance), "" for a dynamic member.
	instance string

	mu       sync.Mutex
	parts    map[tp]*partState
	topicOrd map[string]int32
	rr       int // round-robin start among ready partitions
	seen     map[tp]bool
	startAt  map[tp]int64 // exact start offsets of group assignments
	closed   bool
	skipped  int64
	dead     int64
	bytes    int64 // keys and values of the records buffered
	// revokeHook, if set, hears of partitions the group takes away
	// before the reader forgets them (SetRevokeHook).
	revokeHook func(ctx context.Context, revoked map[int32]string)
	// revoking are the partitions of a revoke whose hook runs: Next
	// returns none of their records any more.
	revoking map[tp]bool
	// handed is set from the moment Next builds a batch until the next
	// call of Next: the caller may still hold a batch it has not passed
	// on. back is closed when handed is cleared (the revoke hook waits
	// for it, so every batch of a revoked partition returned before the
	// revoke has reached the caller's queue before the hook runs).
	handed bool
	back   chan struct{}
	// lostHook, if set, hears of partitions lost without a revoke
	// (SetLostHook); epoch counts the losses and rewinds (Epoch).
	lostHook func(ctx context.Context, lost map[int32]string)
	epoch    uint64
	// rewind is set by Rewind: the next Next drops what was buffered
	// and sets rewinding, and its next poll moves every held partition
	// back to the group's committed offset, while no rebalance can run.
	rewind, rewinding bool
}

var _ exec.SourceReader = (*Reader)(nil)

type tp struct {
	t string
	p int32
}

// partState is the reader's view of one assigned partition.
type partState struct {
	id      int32
	buf     []*kgo.Record // polled, not yet returned
	firstAt time.Time     // when buf's oldest record arrived
	next    int64         // offset after the last record returned; -1 unknown
	end     int64         // bounded scans: stop here; -1 unbounded
	high    int64         // the partition's high watermark at the last fetch; -1 unknown
	done    bool
	// carried is what the watermark records read so far say (a
	// repartition topic that carries its upstream's watermarks).
	carried carried
	// start is where this assignment of the partition began reading
	// (-1 until known): a Rewind goes back there when the group has
	// no committed offset for it.
	start int64
}

func newReader(s *Source, bb *batchBuilder, spec exec.ScanSpec) *Reader {
	r := &Reader{src: s, spec: spec, batch: spec.BatchSize, bb: bb,
		parts: map[tp]*partState{}, topicOrd: map[string]int32{}, seen: map[tp]bool{}, startAt: map[tp]int64{}}
	if r.batch <= 0 {
		r.batch = exec.DefaultBatchSize
	}
	r.grouped = s.cfg.group != "" && !spec.Bounded
	if r.grouped {
		r.instance = s.cfg.instanceID
		if r.instance == "" {
			r.instance = spec.Instance
		}
	}
	return r
}

// partID maps a topic partition to Batch.Partition: the Kafka partition
// for the first topic seen, the topic's ordinal in the high bits for the
// others, so multi-topic sources keep partitions apart.
func (r *Reader) partID(t string, p int32) int32 {
	ord, ok := r.topicOrd[t]
	if !ok {
		ord = int32(len(r.topicOrd))
		r.topicOrd[t] = ord
	}
	return ord<<20 | p
}

func (r *Reader) start(ctx context.Context) error {
	s := r.src
	opts := s.clientOpts()
	if r.grouped {
		opts = append(opts,
			kgo.ConsumerGroup(s.cfg.group),
			kgo.DisableAutoCommit(),
			kgo.RequireStableFetchOffsets(),
			kgo.ConsumeResetOffset(s.modeOffset()),
			kgo.AdjustFetchOffsetsFn(r.adjustOffsets),
			kgo.OnPartitionsAssigned(r.onAssigned),
			kgo.OnPartitionsRevoked(r.onRevokedCommit),
			kgo.OnPartitionsLost(r.onLost),
			// No rebalance runs between a poll and AllowRebalance, so
			// a Rewind's SetOffsets there moves only partitions still
			// held, from offsets fetched while they were (kgo's advice
			// for SetOffsets in a group).
			kgo.BlockRebalanceOnPoll(),
		)
		if s.cfg.pattern != nil {
			opts = append(opts, kgo.ConsumeTopics(s.cfg.pattern.String()), kgo.ConsumeRegex())
		}
		if d := s.cfg.sessionTimeout; d > 0 {
			opts = append(opts, kgo.SessionTimeout(d), kgo.HeartbeatInterval(d/6))
		}
		// A static member restarted after a crash replaces its dead
		// predecessor at once; a dynamic one waits until the dead
		// member's session times out (45 s) before the group rebalances.
		if r.instance != "" {
			opts = append(opts, kgo.InstanceID(r.instance))
		}
	}
	// With a group and named topics, the topics are subscribed only after
	// the ping below proves they exist.
	var err error
	r.cl, err = kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	r.adm = kadm.NewClient(r.cl)
	parts, err := s.ping(ctx, r.adm)
	if err != nil {
		return err
	}
	if r.grouped {
		if s.cfg.pattern == nil {
			r.cl.AddConsumeTopics(s.cfg.topics...)
		}
		registerGroupReader(s.cfg.group, r)
		return nil
	}
	if len(parts) == 0 {
		return fmt.Errorf("kafka: no topic matches 'topic-pattern' %q", s.cfg.pattern)
	}
	starts, err := s.startOffsets(ctx, r.adm, parts, r.spec.From)
	if err != nil {
		return err
	}
	resumed := map[tp]int64{}
	for k, off := range r.spec.From {
		if t, p, err := parseOffsetKey(k); err == nil && starts[t] != nil {
			if _, ok := starts[t][p]; ok {
				resumed[tp{t, p}] = off
			}
		}
	}
	if err := r.relearn(ctx, resumed); err != nil {
		return err
	}
	var ends kadm.ListedOffsets
	if r.spec.Bounded {
		topics := make([]string, 0, len(parts))
		for t := range parts {
			topics = append(topics, t)
		}
		if ends, err = s.endOffsets(ctx, r.adm, topics); err != nil {
			return fmt.Errorf("kafka: listing end offsets: %w", err)
		}
	}
	consume := map[string]map[int32]kgo.Offset{}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range sortedTopics(parts) {
		for _, p := range parts[t] {
			st := &partState{id: r.partID(t, p), next: starts[t][p], end: -1, high: -1, start: starts[t][p]}
			if r.spec.Bounded {
				e, ok := ends.Lookup(t, p)
				if !ok || e.Err != nil {
					return fmt.Errorf("kafka: no end offset for %s/%d: %v", t, p, e.Err)
				}
				st.end = e.Offset
				st.done = st.next >= st.end
			}
			r.parts[tp{t, p}] = st
			if !st.done {
				if consume[t] == nil {
					consume[t] = map[int32]kgo.Offset{}
				}
				consume[t][p] = kgo.NewOffset().At(st.next)
			}
		}
	}
	r.cl.AddConsumePartitions(consume)
	return nil
}

func sortedTopics(m map[string][]int32) []string {
	ts := make([]string, 0, len(m))
	for t := range m {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	return ts
}

// adjustOffsets applies ScanSpec.From and a non-group startup mode to the
// first assignment of each partition; later assignments (after another
// member held the partition) resume from the group's committed offsets.
func (r *Reader) adjustOffsets(ctx context.Context, offs map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	resumed := map[tp]int64{}
	for t, ps := range offs {
		for p, o := range ps {
			k := tp{t, p}
			exact := int64(-1)
			if r.seen[k] || r.src.cfg.startMode == StartGroupOffsets {
				exact = o.EpochOffset().Offset // the committed offset
			}
			if !r.seen[k] {
				if off, ok := r.spec.From[offsetKey(t, p)]; ok {
					ps[p], exact = kgo.NewOffset().At(off), off
					resumed[k] = off
				} else if r.src.cfg.startMode != StartGroupOffsets {
					ps[p] = r.src.modeOffset()
				}
			}
			r.seen[k] = true
			// Knowing the start makes Offsets report the partition before
			// its first record arrives.
			if exact >= 0 {
				r.startAt[k] = exact
				if st := r.parts[k]; st != nil && st.next < 0 {
					st.next, st.start = exact, exact
				}
			}
		}
	}
	if err := r.relearn(ctx, resumed); err != nil {
		return nil, err
	}
	return offs, nil
}

func (r *Reader) onAssigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for t, ps := range assigned {
		for _, p := range ps {
			k := tp{t, p}
			if _, ok := r.parts[k]; !ok {
				next, ok := r.startAt[k]
				if !ok {
					next = -1
				}
				r.parts[k] = &partState{id: r.partID(t, p), next: next, end: -1, high: -1, start: next}
			}
		}
	}
}

// onRevoked forgets revoked or lost partitions, buffered records
// included: their new owner resumes from the group's committed offsets.
func (r *Reader) onRevoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for t, ps := range revoked {
		for _, p := range ps {
			delete(r.parts, tp{t, p})
			delete(r.startAt, tp{t, p})
			delete(r.revoking, tp{t, p})
		}
	}
}

// Next returns the next batch of one partition. Unbounded scans return
// what has arrived once ScanSpec.Linger has passed since a partition's
// oldest buffered record (at once when Linger is zero); bounded scans fill
// batches and end with io.EOF once every partition reached its end.
func (r *Reader) Next(ctx context.Context) (exec.Batch, error) {
	r.mu.Lock()
	r.giveBack()
	if r.rewind {
		// What is buffered was read before the rewind: no batch of it
		// goes out, and the batches after are of the next epoch. The
		// offsets move at the next poll (pollDone).
		r.rewind, r.rewinding = false, true
		r.epoch++
		for _, st := range r.parts {
			st.buf = nil
		}
	}
	r.mu.Unlock()
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return exec.Batch{}, errClosed
		}
		k, st := r.ready(time.Now())
		if st != nil {
			b, ok, err := r.build(ctx, k, st)
			if ok {
				r.handed, r.back = true, make(chan struct{})
			}
			r.mu.Unlock()
			if err != nil || ok {
				return b, err
			}
			continue
		}
		if r.spec.Bounded && r.allDone() {
			r.mu.Unlock()
			return exec.Batch{}, io.EOF
		}
		pctx, cancel := r.pollContext(ctx)
		r.mu.Unlock()
		fetches := r.cl.PollFetches(pctx)
		cancel()
		err := r.pollDone(ctx, fetches)
		r.cl.AllowRebalance()
		if err != nil {
			return exec.Batch{}, err
		}
	}
}

// pollDone buffers what a poll fetched, first applying a pending rewind:
// it runs before AllowRebalance, so no rebalance moves a partition
// between the committed offsets read and the offsets set.
func (r *Reader) pollDone(ctx context.Context, fetches kgo.Fetches) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	rewinding := r.rewinding
	r.mu.Unlock()
	var rewound map[tp]bool
	if rewinding {
		var err error
		if rewound, err = r.applyRewind(ctx); err != nil {
			return err
		}
	}
	return r.buffer(fetches, rewound)
}

// giveBack records that the caller came back for another batch (or the
// reader closed): it holds no batch Next returned. Called with r.mu held.
func (r *Reader) giveBack() {
	if r.handed {
		r.handed = false
		close(r.back)
	}
}

// ready picks a partition whose buffered records make a batch now,
// round-robin so that one busy partition cannot starve the others.
func (r *Reader) ready(now time.Time) (tp, *partState) {
	keys := make([]tp, 0, len(r.parts))
	for k, st := range r.parts {
		if len(st.buf) > 0 && !r.revoking[k] {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return tp{}, nil
	}
	sort.Slice(keys, func(i, j int) bool { return r.parts[keys[i]].id < r.parts[keys[j]].id })
	for i := range keys {
		k := keys[(r.rr+i)%len(keys)]
		st := r.parts[k]
		full := len(st.buf) >= r.batch
		var go_ bool
		switch {
		case full:
			go_ = true
		case r.spec.Bounded:
			go_ = st.buf[len(st.buf)-1].Offset+1 >= st.end
		default:
			go_ = r.spec.Linger <= 0 || now.Sub(st.firstAt) >= r.spec.Linger
		}
		if go_ {
			r.rr = (r.rr + i + 1) % len(keys)
			return k, st
		}
	}
	return tp{}, nil
}

func (r *Reader) allDone() bool {
	for _, st := range r.parts {
		if !st.done || len(st.buf) > 0 {
			return false
		}
	}
	return true
}

// pollContext bounds a poll by the earliest linger deadline among
// buffered partitions, so partial batches go out on time.
func (r *Reader) pollContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.spec.Bounded || r.spec.Linger <= 0 {
		return context.WithCancel(ctx)
	}
	var first time.Time
	for _, st := range r.parts {
		if len(st.buf) > 0 && (first.IsZero() || st.firstAt.Before(first)) {
			first = st.firstAt
		}
	}
	if first.IsZero() {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, first.Add(r.spec.Linger))
}

// buffer files polled records under their partitions, dropping records of
// partitions no longer assigned, of partitions in skip (moved back by a
// rewind: kgo fetches them again from there) and, in bounded scans, past
// the end.
func (r *Reader) buffer(fetches kgo.Fetches, skip map[tp]bool) error {
	var ferr error
	fetches.EachError(func(t string, p int32, err error) {
		if ferr != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, kgo.ErrClientClosed) {
			return
		}
		// Data loss is informational: the client already reset and goes
		// on; records it fetches again are dropped by offset below.
		var loss *kgo.ErrDataLoss
		if errors.As(err, &loss) {
			return
		}
		// So is a lost group session (a session timeout, a join
		// refused): the client has already called onLost, which
		// dropped what was read from the lost partitions, and it
		// rejoins by itself; failing here failed a scaled-out query
		// whose member merely had to join again.
		var session *kgo.ErrGroupSession
		if errors.As(err, &session) {
			return
		}
		ferr = fmt.Errorf("kafka %s/%d: %w", t, p, err)
	})
	if ferr != nil {
		return ferr
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var pause map[string][]int32
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		st := r.parts[tp{fp.Topic, fp.Partition}]
		if st == nil || st.done || skip[tp{fp.Topic, fp.Partition}] {
			return
		}
		if fp.HighWatermark >= 0 {
			st.high = fp.HighWatermark
		}
		for _, rec := range fp.Records {
			if st.next >= 0 && rec.Offset < st.next {
				continue // already returned (a re-fetch after a rebalance)
			}
			if n := len(st.buf); n > 0 && rec.Offset <= st.buf[n-1].Offset {
				continue // already buffered (a fetch from before a rewind)
			}
			if st.end >= 0 && rec.Offset >= st.end {
				break
			}
			if len(st.buf) == 0 {
				st.firstAt = now
			}
			if st.start < 0 {
				st.start = rec.Offset
			}
			st.buf = append(st.buf, rec)
			r.bytes += int64(len(rec.Key) + len(rec.Value))
		}
		if st.end >= 0 && len(st.buf) > 0 && st.buf[len(st.buf)-1].Offset+1 >= st.end {
			st.done = true
			if pause == nil {
				pause = map[string][]int32{}
			}
			pause[fp.Topic] = append(pause[fp.Topic], fp.Partition)
		}
	})
	if pause != nil {
		r.cl.PauseFetchPartitions(pause)
	}
	return nil
}

// build decodes up to a batch of st's buffered records. ok is false when
// every record taken was a transaction marker or a skipped bad record. A
// bad record that fails the scan is returned as an error only once the
// rows before it went out, and stays at the head of the buffer.
func (r *Reader) build(ctx context.Context, k tp, st *partState) (exec.Batch, bool, error) {
	n := 0
	var ferr error
	var wm []int64
	carries := false
	for n < len(st.buf) && r.bb.rows < r.batch && !carries {
		rec := st.buf[n]
		if isWatermark(rec) {
			// Not a row: the upstream's watermarks, which hold once
			// the rows before it are folded; a batch ends at one
			// that moves the partition's watermark.
			if r.src.cfg.carry != nil {
				var err error
				if wm, carries, err = st.carried.fold(rec, r.src.cfg.carry); err != nil {
					ferr = fmt.Errorf("kafka %s/%d/%d: %w", k.t, k.p, rec.Offset, err)
					break
				}
			}
			n++
			continue
		}
		if !rec.Attrs.IsControl() {
			if err := r.bb.add(rec); err != nil {
				derr := fmt.Errorf("kafka %s/%d/%d: %w", k.t, k.p, rec.Offset, err)
				switch policy := r.src.cfg.onError; {
				case errors.Is(err, exec.ErrMemoryLimit):
					ferr = derr // not a bad record: the query's state is full
				case policy == OnErrorSkip:
					r.skipped++
				case policy == OnErrorDeadLetter:
					if perr := r.deadLetter(ctx, rec, derr); perr != nil {
						ferr = perr
					} else {
						r.dead++
					}
				default:
					ferr = derr
				}
				if ferr != nil {
					break
				}
			}
		}
		n++
	}
	r.take(st, n)
	if r.bb.rows == 0 && !carries {
		return exec.Batch{}, false, ferr
	}
	b := exec.Batch{Record: r.bb.finish(), Partition: st.id, CarriesWatermark: carries}
	if carries {
		b.Watermark = slices.Min(wm)
		if len(wm) > 1 {
			b.Watermarks = wm
		}
		b.Carried = st.carried.state()
	}
	return b, true, nil
}

// take marks the first n buffered records of st as returned.
func (r *Reader) take(st *partState, n int) {
	if n > 0 {
		st.next = st.buf[n-1].Offset + 1
		clear(st.buf[:n])
		st.buf = st.buf[n:]
		if len(st.buf) > 0 {
			st.firstAt = time.Now()
		}
	}
	if len(st.buf) == 0 {
		st.buf = nil
	}
}

// deadLetter sends a record that failed to decode to the dead-letter
// topic, with the error in the sluice.error header.
func (r *Reader) deadLetter(ctx context.Context, rec *kgo.Record, derr error) error {
	out := &kgo.Record{Topic: r.src.cfg.deadLetter, Key: rec.Key, Value: rec.Value, Timestamp: rec.Timestamp}
	out.Headers = append(out.Headers, rec.Headers...)
	out.Headers = append(out.Headers, kgo.RecordHeader{Key: DeadLetterErrorHeader, Value: []byte(derr.Error())})
	if err := r.cl.ProduceSync(ctx, out).FirstErr(); err != nil {
		return fmt.Errorf("kafka: writing to dead-letter topic %q: %w (for %v)", r.src.cfg.deadLetter, err, derr)
	}
	return nil
}

// Offsets is the position after the last record returned, per
// "topic/partition" of the partitions this reader holds.
func (r *Reader) Offsets() exec.Offsets {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := exec.Offsets{}
	for k, st := range r.parts {
		if st.next >= 0 {
			out[offsetKey(k.t, k.p)] = st.next
		}
	}
	return out
}

var _ exec.ProgressReporter = (*Reader)(nil)

// BytesRead is the bytes of record keys and values fetched so far.
func (r *Reader) BytesRead() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bytes
}

// Lag is, per "topic/partition" held, the records between the next offset
// to return and the partition's high watermark at the last fetch.
func (r *Reader) Lag() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int64{}
	for k, st := range r.parts {
		if st.high < 0 || st.next < 0 {
			continue
		}
		out[offsetKey(k.t, k.p)] = max(st.high-st.next, 0)
	}
	return out
}

// Partitions lists the Batch.Partition ids this reader currently holds,
// in order; with a consumer group it changes as the group rebalances, and
// bounded scans drop partitions that reached their end.
func (r *Reader) Partitions() []int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]int32, 0, len(r.parts))
	for _, st := range r.parts {
		if !st.done || len(st.buf) > 0 {
			out = append(out, st.id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Skipped counts records dropped under on_error = 'skip' and records sent
// to the dead-letter topic.
func (r *Reader) Skipped() (skipped, deadLettered int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.skipped, r.dead
}

// CommitOffsets commits offs (as returned by Offsets) to the source's
// consumer group; offsets are never committed automatically. The engine
// calls it after a checkpoint or a sink's Commit succeeded, so a restart
// with 'scan.startup.mode' = 'group-offsets' resumes there. Without a
// 'group.id' it does nothing. Exactly-once Kafka sinks commit the offsets
// inside their transaction instead.
func (r *Reader) CommitOffsets(ctx context.Context, offs exec.Offsets) error {
	g := r.src.cfg.group
	if g == "" || len(offs) == 0 {
		return nil
	}
	ko, err := toKgoOffsets(offs)
	if err != nil {
		return err
	}
	if !r.grouped {
		os := kadm.Offsets{}
		for t, ps := range ko {
			for p, eo := range ps {
				os.Add(kadm.Offset{Topic: t, Partition: p, At: eo.Offset, LeaderEpoch: -1})
			}
		}
		resp, err := r.adm.CommitOffsets(ctx, g, os)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return fmt.Errorf("kafka: committing offsets of group %q: %w", g, err)
		}
		return nil
	}
	var cerr error
	r.cl.CommitOffsetsSync(ctx, ko, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				e := kerr.ErrorForCode(p.ErrorCode)
				// A commit racing a rebalance (a restarted static
				// member fencing its dead predecessor, a new
				// generation) is refused; the next commit carries
				// newer offsets, and a checkpointed query resumes from
				// its checkpoint, not from these. Failing the query
				// here made a clean stop right after a restart exit 1.
				if e == nil || errors.Is(e, kerr.RebalanceInProgress) || errors.Is(e, kerr.FencedInstanceID) ||
					errors.Is(e, kerr.UnknownMemberID) || errors.Is(e, kerr.IllegalGeneration) {
					continue
				}
				if cerr == nil {
					cerr = fmt.Errorf("%s/%d: %w", t.Topic, p.Partition, e)
				}
			}
		}
	})
	if cerr != nil {
		return fmt.Errorf("kafka: committing offsets of group %q: %w", g, cerr)
	}
	return nil
}

// groupMember returns the reader's group member id and generation, for
// fencing transactional offset commits.
func (r *Reader) groupMember() (string, int32) {
	return r.cl.GroupMetadata()
}

// Close leaves the group (committing nothing) and frees the builders.
func (r *Reader) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.parts = map[tp]*partState{}
	r.giveBack()
	r.mu.Unlock()
	if r.grouped {
		unregisterGroupReader(r.src.cfg.group, r)
	}
	if r.cl != nil {
		r.cl.Close()
		if r.instance != "" {
			r.leaveStatic()
		}
	}
	if r.upsert != nil {
		r.upsert.close()
	}
	r.bb.release()
	return nil
}

// leaveStatic leaves the group on a clean stop: a static member's client
// does not, so its partitions would stay with it until its session
// timed out, away from the other members of a scaled-out query.
func (r *Reader) leaveStatic() {
	cl, err := kgo.NewClient(r.src.clientOpts()...)
	if err != nil {
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), r.src.cfg.connectTimeout)
	defer cancel()
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = r.src.cfg.group
	m := kmsg.NewLeaveGroupRequestMember()
	m.InstanceID = &r.instance
	req.Members = append(req.Members, m)
	// Best effort: a member that did not leave is removed when its
	// session times out, or replaced when the query restarts.
	_, _ = req.RequestWith(ctx, cl)
}
