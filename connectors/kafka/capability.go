package kafka

import (
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
)

var (
	_ exec.BoundedAtStart  = (*Source)(nil)
	_ exec.GroupSource     = (*Source)(nil)
	_ exec.PartitionKeyed  = (*Source)(nil)
	_ exec.OffsetCommitter = (*Reader)(nil)
	_ exec.TwoPhaseWriter  = (*Writer)(nil)

	_ exec.ConstraintChecker = (*Source)(nil)
)

// ChecksConstraints reports whether the value format checks declared NOT
// NULL and UNSIGNED columns as it decodes (json, csv, debezium-json,
// upsert-json); a bad record is then handled by 'on_error' and named by
// topic/partition/offset like any other.
func (s *Source) ChecksConstraints() bool { return formatOf(s.cfg.format).rules }

// scaleOutConfig is how a source's partitions may be divided among
// processes: 'partition.key' names the column records are keyed by,
// 'scale.out' = 'false' says one process reads the whole topic even with
// a 'group.id', and 'parallelism' is the partition count of the internal
// topics a scaled-out query over the source creates (0: the source's).
type scaleOutConfig struct {
	partitionKey string
	singleReader bool
	parallelism  int
}

// maxInternalPartitions bounds 'parallelism': a repartition topic and a
// changelog topic of that many partitions per keyed operator.
const maxInternalPartitions = 10000

// parseScaleOut reads 'partition.key' (a column of schema, returned in
// the schema's spelling), 'scale.out' (true or false) and 'parallelism'.
func parseScaleOut(opts connectors.Options, schema *arrow.Schema) (scaleOutConfig, error) {
	var c scaleOutConfig
	switch v := strings.ToLower(strings.TrimSpace(opts["scale.out"])); v {
	case "", "true":
	case "false":
		c.singleReader = true
	default:
		return c, optErr("'scale.out' must be true or false, not %q", opts["scale.out"])
	}
	if v, ok := opts["parallelism"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > maxInternalPartitions {
			return c, optErr("'parallelism' must be an integer from 1 to %d (the partitions of the internal topics of a scaled-out query), not %q", maxInternalPartitions, v)
		}
		c.parallelism = n
	}
	if k := strings.TrimSpace(opts["partition.key"]); k != "" {
		for _, f := range schema.Fields() {
			if strings.EqualFold(f.Name, k) {
				c.partitionKey = f.Name
			}
		}
		if c.partitionKey == "" {
			return c, optErr("'partition.key' %q is not a column of the source", k)
		}
	}
	return c, nil
}

// BoundedAtStart is true: a batch scan stops at the end offsets listed
// when it opened.
func (s *Source) BoundedAtStart() bool { return true }

// Group is the consumer group ('group.id', else 'properties.group.id').
func (s *Source) Group() string { return s.cfg.group }

// ScaledOut reports whether several processes reading through the group
// may divide the partitions: true with a group unless 'scale.out' =
// 'false'.
func (s *Source) ScaledOut() bool { return s.cfg.group != "" && !s.scale.singleReader }

// PartitionKey is the 'partition.key' column, "" when not declared.
func (s *Source) PartitionKey() string { return s.scale.partitionKey }
