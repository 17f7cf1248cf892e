// Package kafka is the Kafka source and sink (connector = 'kafka') on
// franz-go. The source decodes record values (json, csv or raw) straight
// into Arrow builders, one batch per partition, and tracks offsets per
// "topic/partition" so checkpoints can resume exactly; the sink encodes
// rows as records, as an append stream or an upsert changelog (tombstones
// for deletes), at least once or exactly once with Kafka transactions that
// also commit the source offsets.
package kafka

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/sandbox"
)

// ErrOption is wrapped by every error about a bad or missing WITH option,
// so callers can tell configuration mistakes from broker trouble.
var ErrOption = errors.New("kafka: bad option")

// Startup modes for 'scan.startup.mode'.
const (
	StartEarliest     = "earliest"
	StartLatest       = "latest"
	StartGroupOffsets = "group-offsets"
	StartTimestamp    = "timestamp"
)

// flinkStartModes are Flink's spellings of the startup modes, accepted so
// that a Flink script's CREATE TABLE runs unchanged.
var flinkStartModes = map[string]string{"earliest-offset": StartEarliest, "latest-offset": StartLatest}

// Error policies for the source's 'on_error'.
const (
	OnErrorFail       = "fail"
	OnErrorSkip       = "skip"
	OnErrorDeadLetter = "dead-letter"
)

// DeadLetterErrorHeader is the record header that carries the decode error
// on records sent to the dead-letter topic.
const DeadLetterErrorHeader = "sluice.error"

// defaultConnectTimeout bounds Open when brokers are unreachable, so a
// typo in 'brokers' fails a query in seconds rather than hanging it.
const defaultConnectTimeout = 10 * time.Second

// sourceConfig is the parsed WITH options of a Kafka source.
type sourceConfig struct {
	connConfig
	topics        []string
	pattern       *regexp.Regexp
	fmt           formatDecl
	format        string   // fmt.name
	key           []string // 'key' of a keyed format (upsert-json)
	startMode     string
	startMillis   int64
	group         string
	instanceID    string // 'group.instance.id': static group membership
	onError       string
	deadLetter    string
	readCommitted bool
	registryURL   string // 'schema.registry.url' (avro, protobuf)
	subject       string // 'schema.registry.subject', default <topic>-value
	protoMessage  string // 'protobuf.message': the message columns are inferred from
	// sessionTimeout, when set, is the group session timeout: how soon
	// the group gives a dead member's partitions to the others (kgo's
	// 45 s by default).
	sessionTimeout time.Duration
	// carry, when set, makes the source a repartition topic that
	// carries its upstream's watermarks (watermark records): per input
	// of the operator reading it (one, or a join's two sides) the
	// marks' keys (source partitions, "topic/partition", a join side's
	// prefixed) whose least is that input's watermark.
	carry [][]string
}

// sinkConfig is the parsed WITH options of a Kafka sink.
type sinkConfig struct {
	connConfig
	topic       string
	format      string // a name in formats
	key         []string
	exactlyOnce bool
	txnID       string
	group       string
	registryURL string
	subject     string
	// createTopic, partitions and replication: whether and how a missing
	// topic is created ('topic.create', 'topic.partitions',
	// 'topic.replication').
	createTopic bool
	partitions  int32
	replication int16
	// txnTimeout is the transaction timeout (a minute when zero): how
	// long a crashed writer's open transaction holds read_committed
	// readers back.
	txnTimeout time.Duration
	// marks: the topic carries watermark records beside the rows (a
	// repartition topic, WriteWatermarks).
	marks bool
	// txnIDFrom says where txnID comes from, for the error a producer
	// fenced by another with the same id gives: "'transactional.id'"
	// when empty.
	txnIDFrom string
}

func optErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrOption, fmt.Sprintf(format, args...))
}

func parseBrokers(opts connectors.Options) ([]string, error) {
	raw := opts["brokers"]
	if raw == "" {
		raw = opts["properties.bootstrap.servers"]
	}
	var out []string
	for _, b := range strings.Split(raw, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		return nil, optErr("'brokers' is required ('host:port,...')")
	}
	return out, nil
}

func parseTimeout(opts connectors.Options) (time.Duration, error) {
	s := opts["connect.timeout"]
	if s == "" {
		return defaultConnectTimeout, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		// A bare number is taken as seconds, as people write it in SQL.
		n, nerr := strconv.ParseFloat(s, 64)
		if nerr != nil {
			return 0, optErr("'connect.timeout' %q is not a duration like 10s", s)
		}
		d = time.Duration(n * float64(time.Second))
	}
	if d <= 0 {
		return 0, optErr("'connect.timeout' must be positive, not %q", s)
	}
	return d, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseSourceConfig(files *sandbox.Root, opts connectors.Options) (*sourceConfig, error) {
	c := &sourceConfig{readCommitted: true}
	var err error
	if c.connConfig, err = parseConnConfig(files, opts); err != nil {
		return nil, err
	}
	n := 0
	if t := strings.TrimSpace(opts["topic"]); t != "" {
		c.topics = []string{t}
		n++
	}
	if ts := splitList(opts["topics"]); len(ts) > 0 {
		c.topics = ts
		n++
	}
	if p := opts["topic-pattern"]; p != "" {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, optErr("'topic-pattern' %q: %v", p, err)
		}
		c.pattern = re
		n++
	}
	if n != 1 {
		return nil, optErr("exactly one of 'topic', 'topics' or 'topic-pattern' is required")
	}
	f, err := parseFormat(opts, false)
	if err != nil {
		return nil, err
	}
	c.format = f.name
	if f.registry {
		if c.registryURL, c.subject, err = registryOptions(opts, c.format, c.topics); err != nil {
			return nil, err
		}
	}
	c.protoMessage = strings.TrimSpace(opts["protobuf.message"])
	if f.keyed {
		if c.key = splitList(opts["key"]); len(c.key) == 0 {
			return nil, optErr("format %s needs 'key': the columns the record key stands for", c.format)
		}
	}
	c.group = opts["group.id"]
	if c.group == "" {
		c.group = opts["properties.group.id"]
	}
	c.instanceID = opts["group.instance.id"]
	if c.instanceID == "" {
		c.instanceID = opts["properties.group.instance.id"]
	}
	if c.instanceID != "" && c.group == "" {
		return nil, optErr("'group.instance.id' needs 'group.id'")
	}
	c.startMode = strings.ToLower(strings.TrimSpace(opts["scan.startup.mode"]))
	if m, ok := flinkStartModes[c.startMode]; ok {
		c.startMode = m
	}
	if c.startMode == "" {
		c.startMode = StartEarliest
		if c.group != "" {
			c.startMode = StartGroupOffsets
		}
	}
	switch c.startMode {
	case StartEarliest, StartLatest:
	case StartGroupOffsets:
		if c.group == "" {
			return nil, optErr("'scan.startup.mode' = 'group-offsets' needs 'group.id'")
		}
	case StartTimestamp:
		s := opts["scan.startup.timestamp-millis"]
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil || ms < 0 {
			return nil, optErr("'scan.startup.mode' = 'timestamp' needs 'scan.startup.timestamp-millis' (milliseconds since the epoch), got %q", s)
		}
		c.startMillis = ms
	default:
		return nil, optErr("'scan.startup.mode' must be earliest, latest, group-offsets or timestamp, not %q", c.startMode)
	}
	if err := flinkJSONOptions(opts, c.format); err != nil {
		return nil, err
	}
	c.onError = strings.ToLower(opts["on_error"])
	if ignore, _ := strconv.ParseBool(strings.TrimSpace(opts["json.ignore-parse-errors"])); ignore {
		if c.onError != "" && c.onError != OnErrorSkip {
			return nil, optErr("'json.ignore-parse-errors' = 'true' is on_error = 'skip', not on_error = %q: give one of them", c.onError)
		}
		c.onError = OnErrorSkip
	}
	switch c.onError {
	case "":
		c.onError = OnErrorFail
	case OnErrorFail, OnErrorSkip:
	case OnErrorDeadLetter, "dead_letter", "deadletter":
		c.onError = OnErrorDeadLetter
		c.deadLetter = opts["dead-letter.topic"]
		if c.deadLetter == "" {
			return nil, optErr("on_error = 'dead-letter' needs 'dead-letter.topic'")
		}
	default:
		return nil, optErr("on_error must be fail, skip or dead-letter, not %q", c.onError)
	}
	switch strings.ToLower(opts["isolation.level"]) {
	case "", "read_committed", "read-committed":
	case "read_uncommitted", "read-uncommitted":
		c.readCommitted = false
	default:
		return nil, optErr("'isolation.level' must be read_committed or read_uncommitted, not %q", opts["isolation.level"])
	}
	return c, nil
}

// flinkJSONOptions checks Flink's json.* format options, which a Flink
// script's CREATE TABLE carries: they apply to the JSON formats only, and
// 'json.fail-on-missing-field' = 'true' is refused, as sluice reads a
// missing field as NULL (a NOT NULL column refuses it instead).
// 'json.ignore-parse-errors' is read with on_error, and
// 'json.timestamp-format.standard' changes nothing on read (both SQL and
// ISO-8601 timestamps are read).
func flinkJSONOptions(opts connectors.Options, format string) error {
	for k := range opts {
		if strings.HasPrefix(k, "json.") && format != "json" && format != "upsert-json" && format != "debezium-json" {
			return optErr("'%s' applies to the JSON formats, not format %s", k, format)
		}
	}
	for _, k := range []string{"json.ignore-parse-errors", "json.fail-on-missing-field"} {
		if v, ok := opts[k]; ok {
			if _, err := strconv.ParseBool(strings.TrimSpace(v)); err != nil {
				return optErr("'%s' must be true or false, not %q", k, v)
			}
		}
	}
	if strings.EqualFold(strings.TrimSpace(opts["json.fail-on-missing-field"]), "true") {
		return optErr("'json.fail-on-missing-field' = 'true' is not supported: a field the JSON lacks reads as NULL; declare the column NOT NULL to fail on a record without it")
	}
	return nil
}

func parseSinkConfig(files *sandbox.Root, opts connectors.Options) (*sinkConfig, error) {
	c := &sinkConfig{}
	var err error
	if c.connConfig, err = parseConnConfig(files, opts); err != nil {
		return nil, err
	}
	c.topic = strings.TrimSpace(opts["topic"])
	if c.topic == "" {
		return nil, optErr("'topic' is required")
	}
	f, err := parseFormat(opts, true)
	if err != nil {
		return nil, err
	}
	c.format = f.name
	if f.registry {
		if c.registryURL, c.subject, err = registryOptions(opts, c.format, []string{c.topic}); err != nil {
			return nil, err
		}
	}
	c.key = splitList(opts["key"])
	delivery := opts["delivery"]
	if delivery == "" {
		delivery = opts["sink.delivery-guarantee"]
	}
	switch strings.ToLower(delivery) {
	case "", "at-least-once", "at_least_once":
	case "exactly-once", "exactly_once":
		c.exactlyOnce = true
	default:
		return nil, optErr("'delivery' must be at-least-once or exactly-once, not %q", delivery)
	}
	if err := flinkJSONOptions(opts, c.format); err != nil {
		return nil, err
	}
	c.txnID = opts["transactional.id"]
	if c.txnID == "" {
		c.txnID = opts["sink.transactional-id-prefix"]
	}
	if c.exactlyOnce && c.txnID == "" {
		return nil, optErr("'delivery' = 'exactly-once' needs 'transactional.id' (stable across restarts, so a restarted query fences the old one)")
	}
	if v := strings.TrimSpace(opts["transaction.timeout"]); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > 15*time.Minute {
			return nil, optErr("'transaction.timeout' must be a duration from 1s to 15m (brokers refuse longer ones by default), not %q", v)
		}
		c.txnTimeout = d
	}
	c.group = opts["group.id"]
	c.createTopic, c.partitions, c.replication = true, 1, 1
	if v, ok := opts["topic.create"]; ok {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return nil, optErr("'topic.create' must be true or false, not %q", v)
		}
		c.createTopic = b
	}
	if v, ok := opts["topic.partitions"]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if err != nil || n < 1 {
			return nil, optErr("'topic.partitions' must be an integer ≥ 1, not %q", v)
		}
		c.partitions = int32(n)
	}
	if v, ok := opts["topic.replication"]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 16)
		if err != nil || n < 1 {
			return nil, optErr("'topic.replication' must be an integer ≥ 1, not %q", v)
		}
		c.replication = int16(n)
	}
	return c, nil
}

// registryOptions reads 'schema.registry.url' (required by avro) and the
// subject, '<topic>-value' by default (Confluent's TopicNameStrategy),
// which needs a single topic.
func registryOptions(opts connectors.Options, format string, topics []string) (url, subject string, err error) {
	url = strings.TrimSpace(opts["schema.registry.url"])
	if url == "" {
		return "", "", optErr("format %s needs 'schema.registry.url'", format)
	}
	subject = opts["schema.registry.subject"]
	if subject == "" {
		if len(topics) != 1 {
			return "", "", optErr("format %s over several topics needs 'schema.registry.subject'", format)
		}
		subject = topics[0] + "-value"
	}
	return url, subject, nil
}
