package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// broker is a Kafka cluster (franz-go's kfake) hosted by the harness
// process itself, so it outlives every sluice process the harness kills.
type broker struct {
	c     *kfake.Cluster
	addr  string
	admin *kadm.Client
	cl    *kgo.Client
}

func startBroker() (*broker, error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return nil, fmt.Errorf("starting kfake: %w", err)
	}
	addrs := c.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		c.Close()
		return nil, err
	}
	return &broker{c: c, addr: strings.Join(addrs, ","), admin: kadm.NewClient(cl), cl: cl}, nil
}

func (b *broker) close() {
	b.cl.Close()
	b.c.Close()
}

func (b *broker) createTopic(ctx context.Context, name string, partitions int32) error {
	resp, err := b.admin.CreateTopic(ctx, partitions, 1, nil, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("creating topic %s: %w", name, err)
	}
	return nil
}

// inputPartitions is the partition count of every input topic: more than
// one, so per-partition watermarks and offsets are exercised.
const inputPartitions = 3

// inputBase is the event time of input record 0.
var inputBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// inputRecord is record i of an input topic: a pure function of i, so the
// clean and the crashed run read the same data whenever it arrives. Record
// i goes to partition i%3 and has event time inputBase + i*spacing: each
// partition is in event-time order, so no row is late whatever the
// interleaving of partitions (results cannot depend on timing).
func inputRecord(i int, spacing time.Duration) *kgo.Record {
	h := mix(uint64(i))
	ts := inputBase.Add(time.Duration(i) * spacing)
	v, _ := json.Marshal(map[string]any{
		"id":       i,
		"category": fmt.Sprintf("c%d", h%5),
		"value":    int64(mix(h) % 1000),
		"ts":       ts.Format("2006-01-02 15:04:05.000"),
	})
	return &kgo.Record{Partition: int32(i % inputPartitions), Value: v}
}

// flushRecords go to every partition after the input: their event time
// is an hour past the last record, so every window of the input closes
// (the watermark is the minimum over partitions) while theirs stay open.
func flushRecords(n int, spacing time.Duration) []*kgo.Record {
	ts := inputBase.Add(time.Duration(n)*spacing + time.Hour)
	var out []*kgo.Record
	for p := int32(0); p < inputPartitions; p++ {
		v, _ := json.Marshal(map[string]any{"id": -1 - int(p), "category": "zz-flush", "value": 0,
			"ts": ts.Format("2006-01-02 15:04:05.000")})
		out = append(out, &kgo.Record{Partition: p, Value: v})
	}
	return out
}

// mix is splitmix64: a well-mixed pure function of its input.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// produce writes n input records to topic, with event times spacing
// apart, paced over span of wall time (starting now), and then the flush
// records. It returns when all are acknowledged, or ctx ends. The data do
// not depend on span: a crashed episode may spread the same input over
// more of its runs than the clean run.
func (b *broker) produce(ctx context.Context, topic string, n int, spacing, span time.Duration) error {
	rate := float64(n) / max(span.Seconds(), 0.001)
	start := time.Now()
	i := 0
	for i < n {
		due := min(n, int(time.Since(start).Seconds()*rate)+1)
		var batch []*kgo.Record
		for ; i < due; i++ {
			r := inputRecord(i, spacing)
			r.Topic = topic
			batch = append(batch, r)
		}
		if len(batch) > 0 {
			if err := b.cl.ProduceSync(ctx, batch...).FirstErr(); err != nil {
				return fmt.Errorf("producing to %s: %w", topic, err)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	fl := flushRecords(n, spacing)
	for _, r := range fl {
		r.Topic = topic
	}
	if err := b.cl.ProduceSync(ctx, fl...).FirstErr(); err != nil {
		return fmt.Errorf("producing to %s: %w", topic, err)
	}
	return nil
}

// caughtUp reports whether group has committed, for every partition of
// topic, the topic's end offset: the query says it has processed all
// input. The description says how far it is, for a timeout message.
func (b *broker) caughtUp(ctx context.Context, group, topic string) (bool, string, error) {
	ends, err := b.admin.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return false, "", fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	committed, err := b.admin.FetchOffsets(ctx, group)
	if err != nil {
		// A group that never committed is not an error: not caught up.
		return false, fmt.Sprintf("group %s: %v", group, err), nil
	}
	ok := true
	var parts []string
	ends.Each(func(e kadm.ListedOffset) {
		c, found := committed.Lookup(topic, e.Partition)
		at := int64(-1)
		if found && c.Err == nil {
			at = c.At
		}
		if at < e.Offset {
			ok = false
		}
		parts = append(parts, fmt.Sprintf("p%d %d/%d", e.Partition, at, e.Offset))
	})
	sort.Strings(parts)
	return ok, "group " + group + " committed " + strings.Join(parts, ", "), nil
}

// endMarker is the value of the records readTopic appends to every
// partition of an output topic once the query has stopped: reading up to
// them reads everything committed before, with no guess at a quiet time.
const endMarker = "crashtest: end of output"

// readTopic reads every committed record of topic (read_committed, as an
// exactly-once consumer does) in log order per partition, once no query
// writes to it. It first appends a marker record to each partition and
// reads up to the markers; a marker that stays invisible for limit means
// a transaction was left open in front of it (an error of the product).
func (b *broker) readTopic(ctx context.Context, topic string, limit time.Duration) ([]record, error) {
	ends, err := b.admin.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	var markers []*kgo.Record
	ends.Each(func(e kadm.ListedOffset) {
		markers = append(markers, &kgo.Record{Topic: topic, Partition: e.Partition, Value: []byte(endMarker)})
	})
	if err := b.cl.ProduceSync(ctx, markers...).FirstErr(); err != nil {
		return nil, fmt.Errorf("writing end markers to %s: %w", topic, err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(b.addr, ",")...),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var out []record
	seen := map[int32]bool{}
	for len(seen) < len(markers) {
		fs := cl.PollFetches(rctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if rctx.Err() != nil {
			var missing []string
			for _, m := range markers {
				if !seen[m.Partition] {
					missing = append(missing, fmt.Sprint(m.Partition))
				}
			}
			return nil, productf("reading %s: records of partition(s) %s stay invisible to a read_committed consumer %s after the query stopped (a transaction left open?)",
				topic, strings.Join(missing, ","), limit)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				ferr = fmt.Errorf("reading %s/%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return nil, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Value) == endMarker && r.Key == nil {
				seen[r.Partition] = true
				return
			}
			out = append(out, record{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Value: r.Value})
		})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Partition != out[j].Partition {
			return out[i].Partition < out[j].Partition
		}
		return out[i].Offset < out[j].Offset
	})
	return out, nil
}

// sentRecords is the total end offset of topic: records written,
// committed or not (the crash harness kills a query right after it grows,
// between producing and committing a transaction).
func (b *broker) sentRecords(ctx context.Context, topic string) (int64, error) {
	ends, err := b.admin.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return 0, err
	}
	var n int64
	ends.Each(func(e kadm.ListedOffset) { n += e.Offset })
	return n, nil
}

// trap watches the broker's requests for a chosen moment of one member
// of a scaled-out query (its transactions are those owns accepts) and
// kills it there (kill): at the nth of its transactional Produce
// requests, once handled (killSent); at its nth commit request, which
// is dropped unapplied (killCommitting); right after its nth commit was
// applied (killCommitted). "Once handled" is the broker's next request
// of any client: kfake handles requests one at a time. Requests of the
// member's transactions after the kill are refused (their connection
// closed) until the trap is disarmed, so nothing it sent after the
// moment takes effect; disarm before the member starts again.
type trap struct {
	mu    sync.Mutex
	done  bool // disarmed: the control function drops itself
	hit   bool // fired: the member's requests are refused until disarmed
	what  string
	fired chan struct{}
}

// errTrapped closes the connection of a request a trap refuses.
var errTrapped = errors.New("crashtest: member killed at this request")

func (b *broker) trap(owns func(txnID string) bool, kind actionKind, nth int, kill func()) *trap {
	t := &trap{fired: make(chan struct{})}
	seen := 0
	armed := false
	fire := func() {
		t.hit = true
		close(t.fired)
		kill()
	}
	b.c.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.done {
			b.c.DropControl()
			return nil, nil, false
		}
		id, produce, commit := txnRequest(req)
		mine := id != "" && owns(id)
		if t.hit {
			// A request the member sent before it died (a retry).
			if mine {
				b.c.KeepControl()
				return nil, errTrapped, true
			}
			return nil, nil, false
		}
		if armed {
			fire()
			if mine {
				b.c.KeepControl()
				return nil, errTrapped, true
			}
			return nil, nil, false
		}
		if !mine || (kind == killSent) != produce || (kind != killSent && !commit) {
			return nil, nil, false
		}
		if seen++; seen < nth {
			return nil, nil, false
		}
		switch kind {
		case killSent:
			t.what = fmt.Sprintf("records of transaction %s reached the broker", id)
			armed = true
		case killCommitted:
			t.what = fmt.Sprintf("transaction %s committed", id)
			armed = true
		default:
			t.what = fmt.Sprintf("commit of transaction %s asked for, dropped", id)
			fire()
			b.c.KeepControl()
			return nil, errTrapped, true
		}
		return nil, nil, false
	})
	return t
}

// txnRequest says which transaction req belongs to ("" for none), and
// whether it produces records or commits.
func txnRequest(req kmsg.Request) (id string, produce, commit bool) {
	switch r := req.(type) {
	case *kmsg.ProduceRequest:
		if r.TransactionID != nil {
			return *r.TransactionID, true, false
		}
	case *kmsg.EndTxnRequest:
		return r.TransactionalID, false, r.Commit
	case *kmsg.TxnOffsetCommitRequest:
		return r.TransactionalID, false, false
	case *kmsg.AddPartitionsToTxnRequest:
		return r.TransactionalID, false, false
	}
	return "", false, false
}

// hasFired reports whether the trap killed.
func (t *trap) hasFired() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.hit
}

// disarm stops the trap (its control function drops itself at the next
// request) and says what it fired at, if it did.
func (t *trap) disarm() (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done = true
	return t.what, t.hit
}

// internalEnds is the end offset of every partition of group's internal
// topics of role ("repartition", "changelog").
func (b *broker) internalEnds(ctx context.Context, group, role string) (map[string]map[int32]int64, error) {
	topics, err := b.admin.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing topics: %w", err)
	}
	var names []string
	for _, name := range topics.Names() {
		if strings.HasPrefix(name, "_sluice-"+group+"-") && strings.HasSuffix(name, "-"+role) {
			names = append(names, name)
		}
	}
	out := map[string]map[int32]int64{}
	if len(names) == 0 {
		return out, nil
	}
	ends, err := b.admin.ListEndOffsets(ctx, names...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", strings.Join(names, ", "), err)
	}
	ends.Each(func(e kadm.ListedOffset) {
		if out[e.Topic] == nil {
			out[e.Topic] = map[int32]int64{}
		}
		out[e.Topic][e.Partition] = e.Offset
	})
	return out, nil
}

// groupSettled reports whether group is stable (no rebalance under way)
// and has committed an offset for every partition of ends that holds
// records. at lists its committed offsets of those partitions (equal
// between two looks when nothing was committed in between), where also
// the end offsets and the group's state, for a report.
func (b *broker) groupSettled(ctx context.Context, group string, ends map[string]map[int32]int64) (ok bool, at, where string, err error) {
	described, err := b.admin.DescribeGroups(ctx, group)
	if err != nil {
		return false, "", "", fmt.Errorf("describing group %s: %w", group, err)
	}
	state := described[group].State
	committed, err := b.admin.FetchOffsets(ctx, group)
	if err != nil {
		return false, "", fmt.Sprintf("group %s: %v", group, err), nil
	}
	ok = state == "Stable" && len(ends) > 0
	var parts, ats []string
	for topic, ps := range ends {
		for p, end := range ps {
			off := int64(-1)
			if c, found := committed.Lookup(topic, p); found && c.Err == nil {
				off = c.At
			}
			if end > 0 && off < 0 {
				ok = false
			}
			parts = append(parts, fmt.Sprintf("%s/%d %d/%d", topic, p, off, end))
			ats = append(ats, fmt.Sprintf("%s/%d %d", topic, p, off))
		}
	}
	sort.Strings(parts)
	sort.Strings(ats)
	return ok, strings.Join(ats, ","), fmt.Sprintf("group %s, downstream committed %s", state, strings.Join(parts, ", ")), nil
}
