package sluice_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestScaleOutStopCommitError: a scaled-out streaming SELECT is stopped
// (its context cancelled) while input keeps arriving, and the cluster
// refuses the stop's changelog commit. The stop did not keep what was
// processed, so Rows.Err reports the failed commit rather than a clean
// stop (it was nil, and the failure showed only as rows emitted again).
func TestScaleOutStopCommitError(t *testing.T) {
	const parts = 3
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := strings.Join(c.ListenAddrs(), ",")
	var refuse atomic.Bool
	var refused atomic.Int64
	c.ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		end := req.(*kmsg.EndTxnRequest)
		if !refuse.Load() || !end.Commit || !strings.HasSuffix(end.TransactionalID, "-changelog") {
			return nil, nil, false
		}
		refused.Add(1)
		resp := end.ResponseKind().(*kmsg.EndTxnResponse)
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return resp, nil, true
	})

	db, mem := kOpen(t, kConfig())
	defer mem.AssertSize(t, 0)
	defer db.Close()
	kExec(t, db, fmt.Sprintf(soSource, addr))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Input arrives until the stop, so the stop nearly always has state
	// to save; a stop that found none (a periodic save just ran) proves
	// nothing and the query runs again.
	stopFeed := make(chan struct{})
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		cl := kClient(t, addr)
		defer cl.Close()
		for i := 0; ; i++ {
			select {
			case <-stopFeed:
				return
			case <-time.After(5 * time.Millisecond):
			}
			o := kOrders(i, 1, 10, base, time.Millisecond)[0]
			cl.Produce(context.Background(), &kgo.Record{Topic: "orders", Partition: int32(i % parts), Value: kJSON(o)}, nil)
		}
	}()
	defer func() {
		close(stopFeed)
		<-fed
	}()
	for attempt := 0; attempt < 5; attempt++ {
		refuse.Store(false)
		before := refused.Load()
		ctx, cancel := context.WithCancel(context.Background())
		rows, err := db.Query(ctx, soQuery)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		seen := 0
		for seen < 50 && rows.Next() {
			seen += int(rows.Record().NumRows())
		}
		if seen < 50 {
			cancel()
			rows.Close()
			t.Fatalf("only %d rows before the stop: %v", seen, rows.Err())
		}
		refuse.Store(true)
		cancel()
		for rows.Next() {
		}
		err = rows.Err()
		rows.Close()
		if refused.Load() == before {
			continue // the stop had nothing to save
		}
		if err == nil || !strings.Contains(err.Error(), "changelog") {
			t.Fatalf("rows.Err() = %v after the stop's changelog commit was refused; want that error", err)
		}
		return
	}
	t.Fatal("no stop had state to save in 5 runs")
}
