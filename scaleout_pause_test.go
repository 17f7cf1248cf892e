package sluice_test

import (
	"context"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice"
)

// pauseJoinSink is eoJoinSink with a transaction timeout longer than
// the pause of TestScaleOutPausedMember: the paused process's open
// transactions outlive its group sessions (6 s), so on waking it finds
// its partitions lost, not its transactions aborted by the broker.
var pauseJoinSink = strings.Replace(eoJoinSink, "'transaction.timeout' = '5s'", "'transaction.timeout' = '60s'", 1)

// pauseMemberEnv makes the test binary run the exactly-once join as one
// process until killed ("brokers transactional-id sink"): sink "pause"
// is pauseJoinSink, "eo" eoJoinSink (a 5 s transaction timeout).
const pauseMemberEnv = "SLUICE_SCALEOUT_PAUSE_MEMBER"

func init() {
	v := os.Getenv(pauseMemberEnv)
	if v == "" {
		return
	}
	var addr, txn, sink string
	if _, err := fmt.Sscan(v, &addr, &txn, &sink); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	script := soJoinSources + pauseJoinSink
	if sink == "eo" {
		script = soJoinSources + eoJoinSink
	}
	db, err := sluice.Open(sluice.Config{Log: io.Discard})
	if err == nil {
		err = db.Exec(context.Background(), fmt.Sprintf(script, addr, txn))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestScaleOutPausedMember: one of three processes of a scaled-out join
// into an exactly-once sink is paused (SIGSTOP) for longer than its
// group sessions last, while rows stream in. The group hands its source
// and repartition partitions to the other two, which start from the
// committed offsets; when it wakes (SIGCONT) its clients find their
// partitions lost without a revoke. It must discard what it produced
// from them since its last commit (abort its open transactions: output,
// changelog saves, repartition records and offsets; drop its keyed
// instances) instead of committing it under the generation it rejoins
// with, and go on as a member: the committed output stays exactly the
// single-process result, and once the two others stop, it alone
// carries the rest to the exact result.
func TestScaleOutPausedMember(t *testing.T) {
	// Past the 6 s session timeout, short of the internal topics' 10 s
	// transaction timeout and the sink's 60 s.
	soPausedMember(t, "pause", 8500*time.Millisecond)
}

// TestScaleOutPausedPastTxnTimeout: as TestScaleOutPausedMember, but the
// pause outlasts every transaction timeout of the paused process (the
// sink's 5 s, the internal topics' 10 s): the broker aborted its open
// transactions and fenced its producers, which it finds on waking
// (INVALID_PRODUCER_EPOCH, PRODUCER_FENCED). Instead of stopping with an
// error it makes new producers with the same transactional ids (Kafka
// Streams' TaskMigrated path), reads its partitions again from the
// committed offsets and restores their state: the committed output
// stays exactly the single-process result, and the woken process alone
// carries the rest. Without the new producers it exits on waking.
func TestScaleOutPausedPastTxnTimeout(t *testing.T) {
	soPausedMember(t, "eo", 12*time.Second)
}

// soPausedMember runs three processes of the exactly-once join (sink
// "pause" or "eo", see pauseMemberEnv), pauses one of them for pause
// while rows stream in, and checks the output is the single-process
// result then and after the other two stopped.
func soPausedMember(t *testing.T, sink string, pause time.Duration) {
	const parts = 4
	addr := kCluster(t, map[string]int32{"orders": parts, "payments": parts, "joined": 2})
	sinkSQL := pauseJoinSink
	if sink == "eo" {
		sinkSQL = eoJoinSink
	}
	a := eoStartSink(t, addr, "pause-a", sinkSQL)
	b := eoStartSink(t, addr, "pause-b", sinkSQL)
	cmd := osexec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), pauseMemberEnv+"="+addr+" pause-c "+sink)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// exited is closed once the process has exited (waitErr is how):
	// a check that it exited and the cleanup can both wait for it.
	var waitErr error
	exited := make(chan struct{})
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	defer func() {
		cmd.Process.Signal(syscall.SIGCONT)
		if t.Failed() {
			// Its goroutines, on stderr: a process that stopped
			// making progress shows where it waits.
			cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-exited:
				return
			case <-time.After(10 * time.Second):
			}
		}
		cmd.Process.Kill()
		<-exited
	}()
	defer func() {
		if a != nil {
			a.stop(t)
		}
		if b != nil {
			b.stop(t)
		}
	}()
	kWaitGroup(t, addr, "g2", 9, 3*parts)
	o1, p1, want := soJoinRecords(0, 300, parts)
	kProduce(t, addr, o1...)
	kProduce(t, addr, p1...)
	eoWait(t, addr, want, "three processes")

	o2, p2, w2 := soJoinRecords(300, 400, parts)
	pcl := kClient(t, addr)
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for i := 0; i < 400; i += 10 {
			recs := append(append([]*kgo.Record(nil), o2[i:i+10]...), p2[2*i:2*i+20]...)
			if err := pcl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	time.Sleep(700 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(pause)
	if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	<-produced
	want = append(want, w2...)
	eoWait(t, addr, want, fmt.Sprintf("after a member was paused %s", pause))
	select {
	case <-exited:
		t.Fatalf("the paused process exited after waking (%v) instead of rejoining its group", waitErr)
	default:
	}

	// The woken process alone: it must have rejoined and recovered.
	a.stop(t)
	a = nil
	b.stop(t)
	b = nil
	o3, p3, w3 := soJoinRecords(700, 200, parts)
	kProduce(t, addr, o3...)
	kProduce(t, addr, p3...)
	want = append(want, w3...)
	eoWait(t, addr, want, "the woken process alone")
}
