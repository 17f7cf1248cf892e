package main

import (
	"context"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestScheduleMembers: a scaled-out plan has the asked kills and stops,
// covers the three moments of a member's transactions once there are
// three kills, picks members in range, has a quick stop hit the member
// the action before restarted, gives half the downtimes a takeover (past
// the session timeout), and is the same for the same seed.
func TestScheduleMembers(t *testing.T) {
	takeovers, all := 0, 0
	for seed := uint64(1); seed <= 30; seed++ {
		plan := scheduleMembers(pipelineRNG(seed, "m"), 4, 2, 3)
		if again := scheduleMembers(pipelineRNG(seed, "m"), 4, 2, 3); !reflect.DeepEqual(plan, again) {
			t.Fatalf("seed %d: two plans differ:\n%v\n%v", seed, plan, again)
		}
		kinds := map[actionKind]int{}
		kills := 0
		for i, a := range plan {
			kinds[a.kind]++
			if a.kind.isKill() {
				kills++
			}
			if a.member < 0 || a.member >= 3 {
				t.Errorf("seed %d: member %d of 3", seed, a.member)
			}
			if a.kind == stopQuick && i > 0 && a.member != plan[i-1].member {
				t.Errorf("seed %d: quick stop of member %d after member %d restarted", seed, a.member, plan[i-1].member)
			}
			switch {
			case a.down >= takeoverDown && a.down < takeoverDown+2*time.Second:
				takeovers++
			case a.down >= time.Second:
				t.Errorf("seed %d: downtime %s neither short nor a takeover", seed, a.down)
			}
			all++
		}
		if kills != 4 || len(plan) != 6 {
			t.Errorf("seed %d: %d kills of %d actions: %v", seed, kills, len(plan), plan)
		}
		for _, k := range []actionKind{killSent, killCommitting, killCommitted, killRandom} {
			if kinds[k] == 0 {
				t.Errorf("seed %d: no %s in %v", seed, k, plan)
			}
		}
		if plan[0].kind == stopQuick {
			t.Errorf("seed %d: the plan starts with a quick stop", seed)
		}
	}
	if takeovers < all/4 || takeovers > 3*all/4 {
		t.Errorf("%d of %d downtimes are takeovers, want about half", takeovers, all)
	}
}

// TestTrap: on the harness's broker, a trap kills at the chosen moment
// of the transactions it watches and no other: a commit asked for is
// dropped unapplied (the records stay invisible to read_committed), one
// applied kills after it (the records are visible); another
// transactional id's requests never fire it.
func TestTrap(t *testing.T) {
	b, err := startBroker()
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, tc := range []struct {
		kind    actionKind
		visible bool
	}{{killCommitting, false}, {killCommitted, true}, {killSent, false}} {
		t.Run(tc.kind.String(), func(t *testing.T) {
			topic := "trap_" + strings.ReplaceAll(tc.kind.String(), "-", "_")
			if err := b.createTopic(ctx, topic, 1); err != nil {
				t.Fatal(err)
			}
			var kills atomic.Int32
			tr := b.trap(func(id string) bool { return id == "mine" }, tc.kind, 1, func() { kills.Add(1) })
			defer tr.disarm()
			// Another transaction first: it commits, the trap stays.
			if err := txnProduce(ctx, b, "other", topic, "o"); err != nil {
				t.Fatalf("other transaction: %v", err)
			}
			if tr.hasFired() {
				t.Fatal("the trap fired at another transaction")
			}
			err := txnProduce(ctx, b, "mine", topic, "m")
			if tc.kind == killCommitting && err == nil {
				t.Error("the dropped commit succeeded")
			}
			// The broker's next request (this read) fires a trap armed
			// after a handled request.
			recs, rerr := b.readTopic(ctx, topic, 15*time.Second)
			if !tr.hasFired() || kills.Load() != 1 {
				t.Fatalf("fired %v, %d kills, want 1 (produce error %v)", tr.hasFired(), kills.Load(), err)
			}
			var values []string
			for _, r := range recs {
				values = append(values, string(r.Value))
			}
			got := strings.Join(values, ",")
			want := "o"
			if tc.visible {
				want = "o,m"
			}
			// A dropped commit leaves the transaction open: its record
			// holds read_committed back until it times out.
			if rerr != nil && tc.visible {
				t.Fatal(rerr)
			}
			if rerr == nil && got != want {
				t.Errorf("read_committed sees %q, want %q", got, want)
			}
			if what, fired := tr.disarm(); !fired || !strings.Contains(what, "mine") {
				t.Errorf("trap says %q, fired %v", what, fired)
			}
		})
	}
}

// txnProduce writes one record to topic in a transaction of id and
// commits it.
func txnProduce(ctx context.Context, b *broker, id, topic, value string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(b.addr, ",")...), kgo.TransactionalID(id),
		kgo.TransactionTimeout(2*time.Second), kgo.RequestRetries(0), kgo.RetryTimeout(3*time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.BeginTransaction(); err != nil {
		return err
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(value)}).FirstErr(); err != nil {
		return err
	}
	return cl.EndTransaction(ctx, kgo.TryCommit)
}
