package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestProduceOrders: the generator writes count well-formed orders.
func TestProduceOrders(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := produce(ctx, c.ListenAddrs(), "orders", 1000, 30, 1); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	n := 0
	for n < 30 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		for _, r := range fs.Records() {
			var o struct {
				Category string `json:"category"`
				Value    int64  `json:"value"`
				TS       string `json:"ts"`
			}
			if err := json.Unmarshal(r.Value, &o); err != nil || o.Category == "" || o.Value <= 0 || len(o.TS) != len("2006-01-02 15:04:05.000") {
				t.Fatalf("bad order %s: %v", r.Value, err)
			}
			n++
		}
	}
	if n != 30 {
		t.Fatalf("%d orders, want 30", n)
	}
}
