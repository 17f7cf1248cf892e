package sluice_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice"
)

// eoJoinSink writes the scaled-out join of soJoinSources into an
// exactly-once Kafka sink: output, join state (changelog) and
// repartition offsets of each process commit in one transaction.
const eoJoinSink = `;
CREATE SINK joined WITH (connector = 'kafka', topic = 'joined', brokers = '%[1]s', format = 'json',
  delivery = 'exactly-once', 'transactional.id' = '%[2]s', 'transaction.timeout' = '5s')
AS ` + soJoinQuery

// eoJoinMemberEnv makes the test binary run the exactly-once scaled-out
// join (TestScaleOutExactlyOnceJoin) as one process until killed; its
// value is "brokers transactional-id".
const eoJoinMemberEnv = "SLUICE_SCALEOUT_EOJOIN"

func init() {
	v := os.Getenv(eoJoinMemberEnv)
	if v == "" {
		return
	}
	var addr, txn string
	if _, err := fmt.Sscan(v, &addr, &txn); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	db, err := sluice.Open(sluice.Config{Log: io.Discard})
	if err == nil {
		err = db.Exec(context.Background(), fmt.Sprintf(soJoinSources+eoJoinSink, addr, txn))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// eoMember is one in-process DB running the exactly-once join.
type eoMember struct {
	db     *sluice.DB
	cancel context.CancelFunc
	done   chan error
	check  func()
}

func eoStart(t *testing.T, addr, txn string) *eoMember {
	t.Helper()
	return eoStartSink(t, addr, txn, eoJoinSink)
}

// eoStartSink is eoStart with sink (a format of brokers and
// transactional id) in place of eoJoinSink.
func eoStartSink(t *testing.T, addr, txn, sink string) *eoMember {
	t.Helper()
	db, mem := kOpen(t, kConfig())
	ctx, cancel := context.WithCancel(context.Background())
	m := &eoMember{db: db, cancel: cancel, done: make(chan error, 1)}
	m.check = func() {
		if n := mem.CurrentAlloc(); n != 0 {
			t.Errorf("member %s leaked %d bytes", txn, n)
		}
	}
	go func() { m.done <- db.Exec(ctx, fmt.Sprintf(soJoinSources+sink, addr, txn)) }()
	return m
}

// stop stops the member cleanly mid-stream.
func (m *eoMember) stop(t *testing.T) {
	t.Helper()
	m.cancel()
	if err := <-m.done; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("member: %v", err)
	}
	m.db.Close()
	m.check()
}

// eoJoinedRows reads the sink's committed output (read_committed) as
// "id,category,amount" rows with their counts.
func eoJoinedRows(t *testing.T, addr string) map[string]int {
	t.Helper()
	recs := kConsumeAll(t, addr, "joined", func([]*kgo.Record) bool { return false }, 2*time.Second)
	out := map[string]int{}
	for _, r := range recs {
		var row struct {
			ID       int64
			Category string
			Amount   int64
		}
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatalf("output %q: %v", r.Value, err)
		}
		out[fmt.Sprintf("%d,%s,%d", row.ID, row.Category, row.Amount)]++
	}
	return out
}

// eoDiff compares committed output with want (each row once): the
// number of rows missing and of rows extra or repeated.
func eoDiff(got map[string]int, want []string) (missing, extra int) {
	wantSet := make(map[string]bool, len(want))
	for _, w := range want {
		wantSet[w] = true
		if got[w] == 0 {
			missing++
		}
	}
	for g, n := range got {
		switch {
		case !wantSet[g]:
			extra += n
		case n > 1:
			extra += n - 1
		}
	}
	return missing, extra
}

// eoWait waits until the committed output is exactly want, then checks
// that it stays so (nothing committed late twice).
func eoWait(t *testing.T, addr string, want []string, what string) {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	var missing, extra int
	for time.Now().Before(deadline) {
		missing, extra = eoDiff(eoJoinedRows(t, addr), want)
		if extra > 0 {
			t.Fatalf("%s: the committed output has %d rows not in the single-process result or repeated (%d missing so far)", what, extra, missing)
		}
		if missing == 0 {
			time.Sleep(3 * time.Second)
			if missing, extra = eoDiff(eoJoinedRows(t, addr), want); missing != 0 || extra != 0 {
				t.Fatalf("%s: after being exact, the committed output has %d rows missing, %d extra or repeated", what, missing, extra)
			}
			return
		}
	}
	t.Fatalf("%s: %d of %d joined rows missing from the committed output", what, missing, len(want))
}

// TestScaleOutExactlyOnceJoin: three processes in one consumer group run
// a stream-stream join on a key neither topic is partitioned by, into an
// exactly-once Kafka sink (one transactional id each). The committed
// output (read_committed), an append-only stream where any repeat or
// loss shows, is exactly the single-process result each time: with all
// three running; after one process, a subprocess, is killed with SIGKILL
// mid-stream (its open transactions — output, join state, repartition
// records and offsets — abort, and its partitions' next owners restore
// the last committed state and read on from the offsets committed with
// it); after another DB is closed mid-stream; and after a DB joins
// mid-stream.
func TestScaleOutExactlyOnceJoin(t *testing.T) {
	const parts = 4
	addr := kCluster(t, map[string]int32{"orders": parts, "payments": parts, "joined": 2})
	a := eoStart(t, addr, "eo-a")
	b := eoStart(t, addr, "eo-b")
	cmd := osexec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), eoJoinMemberEnv+"="+addr+" eo-c")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	var d *eoMember
	defer func() {
		a.stop(t)
		if b != nil {
			b.stop(t)
		}
		if d != nil {
			d.stop(t)
		}
	}()
	kWaitGroup(t, addr, "g2", 9, 3*parts) // each process: two upstream members, one downstream
	o1, p1, want := soJoinRecords(0, 300, parts)
	kProduce(t, addr, o1...)
	kProduce(t, addr, p1...)
	eoWait(t, addr, want, "three processes")

	// Rows stream in while the subprocess is killed, a DB closes and
	// another joins.
	o2, p2, w2 := soJoinRecords(300, 600, parts)
	pcl := kClient(t, addr)
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for i := 0; i < 600; i += 10 {
			recs := append(append([]*kgo.Record(nil), o2[i:i+10]...), p2[2*i:2*i+20]...)
			if err := pcl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	time.Sleep(1500 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed = true
	cmd.Wait()
	time.Sleep(1500 * time.Millisecond)
	b.stop(t)
	b = nil
	time.Sleep(time.Second)
	d = eoStart(t, addr, "eo-d")
	<-produced
	want = append(want, w2...)
	eoWait(t, addr, want, "after a kill, a close and a join mid-stream")
}
