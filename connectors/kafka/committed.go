package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/exec"
)

// CommittedOffsets returns the source offsets the last committed
// exactly-once transaction covered: the offsets committed for the consumer
// group (the sink's 'group.id', else group). The engine compares them with
// its checkpoints on restart, so a crash between saving a checkpoint and
// committing the transaction cannot lose that interval's output. It
// returns nil, nil for at-least-once delivery or without a group.
func (s *Sink) CommittedOffsets(ctx context.Context, group string) (exec.Offsets, error) {
	if !s.cfg.exactlyOnce {
		return nil, nil
	}
	if s.cfg.group != "" {
		group = s.cfg.group
	}
	if group == "" {
		return nil, nil
	}
	cl, err := kgo.NewClient(s.cfg.clientOpts(kgo.DisableClientMetrics())...)
	if err != nil {
		return nil, fmt.Errorf("kafka sink: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.connectTimeout)
	defer cancel()
	fetched, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return nil, nil // nothing committed yet: a first run
	}
	if err != nil {
		return nil, fmt.Errorf("kafka sink: committed offsets of group %q: %w", group, err)
	}
	offs := exec.Offsets{}
	fetched.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.At >= 0 {
			offs[offsetKey(o.Topic, o.Partition)] = o.At
		}
	})
	return offs, nil
}
