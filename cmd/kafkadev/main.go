// Command kafkadev runs an in-process Kafka cluster (franz-go's kfake) on a
// fixed address for demos and manual testing, creates topics, and can
// produce a generated stream of JSON orders at a steady rate, so
// `make demo-kafka` needs no real Kafka installation.
//
//	kafkadev -addr 127.0.0.1:9092 -topics orders:4,totals:1 -produce orders -rate 200
//
// Each order is {"category": ..., "value": ..., "ts": "2026-01-01 00:00:05.123"}
// with ts the production time in UTC. It runs until interrupted (or until
// -count orders were produced and -exit is set).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

var categories = []string{"books", "games", "garden", "music", "toys"}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "kafkadev:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:9092", "host:port the broker listens on")
	topics := flag.String("topics", "orders:4", "topics to create, comma-separated name[:partitions]")
	produceTo := flag.String("produce", "", "topic to produce generated JSON orders into (none if empty)")
	rate := flag.Float64("rate", 100, "orders per second to produce")
	count := flag.Int("count", 0, "stop producing after this many orders (0: no limit)")
	exit := flag.Bool("exit", false, "exit once -count orders were produced")
	seed := flag.Int64("seed", 1, "random seed of the generated orders")
	flag.Parse()

	host, portStr, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", *addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("-addr %q: bad port", *addr)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.ListenFn(func(network, address string) (net.Listener, error) {
			_, p, err := net.SplitHostPort(address)
			if err != nil {
				return nil, err
			}
			return net.Listen(network, net.JoinHostPort(host, p))
		}),
	}
	var names []string
	for _, spec := range strings.Split(*topics, ",") {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			continue
		}
		name, parts := spec, int32(1)
		if i := strings.IndexByte(spec, ':'); i >= 0 {
			n, err := strconv.Atoi(spec[i+1:])
			if err != nil || n <= 0 {
				return fmt.Errorf("-topics: bad partition count in %q", spec)
			}
			name, parts = spec[:i], int32(n)
		}
		opts = append(opts, kfake.SeedTopics(parts, name))
		names = append(names, fmt.Sprintf("%s (%d partitions)", name, parts))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return fmt.Errorf("starting cluster on %s: %w", *addr, err)
	}
	defer c.Close()
	fmt.Printf("kafkadev: broker at %s; topics: %s\n", strings.Join(c.ListenAddrs(), ","), strings.Join(names, ", "))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *produceTo != "" {
		done := make(chan error, 1)
		go func() { done <- produce(ctx, c.ListenAddrs(), *produceTo, *rate, *count, *seed) }()
		if *exit {
			return <-done
		}
		go func() {
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				fmt.Fprintln(os.Stderr, "kafkadev: producing:", err)
			}
		}()
	}
	<-ctx.Done()
	fmt.Println("kafkadev: stopping")
	return nil
}

// produce writes generated orders at rate per second until ctx ends or
// count orders were written.
func produce(ctx context.Context, brokers []string, topic string, rate float64, count int, seed int64) error {
	if rate <= 0 {
		return errors.New("-rate must be positive")
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		return err
	}
	defer cl.Close()
	rng := rand.New(rand.NewSource(seed))
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	var (
		mu   sync.Mutex
		perr error
	)
	for n := 0; count == 0 || n < count; n++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		cat := categories[rng.Intn(len(categories))]
		ts := time.Now().UTC().Format("2006-01-02 15:04:05.000")
		v := fmt.Sprintf(`{"category":%q,"value":%d,"ts":%q}`, cat, 1+rng.Intn(100), ts)
		cl.Produce(ctx, &kgo.Record{Key: []byte(cat), Value: []byte(v)}, func(_ *kgo.Record, err error) {
			mu.Lock()
			if err != nil && perr == nil && !errors.Is(err, context.Canceled) {
				perr = err
			}
			mu.Unlock()
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	if count > 0 {
		fmt.Printf("kafkadev: produced %d orders to %s\n", count, topic)
	}
	mu.Lock()
	defer mu.Unlock()
	return perr
}
