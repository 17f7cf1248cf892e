package kafka

import (
	"sort"
	"strings"

	"github.com/sluicesql/sluice/connectors"
)

// connOptions are read by both the source and the sink: how to reach
// the brokers and the connection's security.
var connOptions = []connectors.Option{
	{Name: "brokers", Aliases: []string{"properties.bootstrap.servers"}, Type: "list", Doc: "the bootstrap brokers, 'host:port,…' (required)"},
	{Name: "connect.timeout", Type: "duration", Default: "10s", Doc: "how long to wait for the brokers to answer before failing"},
}

// securityDocs documents each security option (securityOptions lists the names).
var securityDocs = map[string]string{
	"security.protocol":                     "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
	"sasl.mechanism":                        "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
	"sasl.username":                         "SASL user",
	"sasl.password":                         "SASL password (never printed)",
	"sasl.jaas.config":                      "a JAAS line carrying username and password, as Java clients take it",
	"ssl.ca.location":                       "PEM file of the CA that signed the brokers' certificates",
	"ssl.certificate.location":              "PEM client certificate (mutual TLS)",
	"ssl.key.location":                      "PEM client key (mutual TLS)",
	"ssl.endpoint.identification.algorithm": "'https' checks the broker's host name (default), '' does not",
}

func securityDecls() []connectors.Option {
	names := make([]string, 0, len(securityOptions))
	for n := range securityOptions {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []connectors.Option
	for _, n := range names {
		typ := "string"
		if strings.HasSuffix(n, ".location") {
			typ = "path"
		}
		out = append(out, connectors.Option{Name: "properties." + n, Aliases: []string{n}, Type: typ, Doc: securityDocs[n]})
	}
	return out
}

// SourceOptions are the Kafka source's WITH options.
var SourceOptions = concat(connOptions, []connectors.Option{
	{Name: "topic", Type: "string", Doc: "the topic to read (or 'topics' or 'topic-pattern')"},
	{Name: "topics", Type: "list", Doc: "several topics, 'a,b'"},
	{Name: "topic-pattern", Type: "string", Doc: "a regular expression: every matching topic"},
	{Name: "format", Type: "enum", Default: "json", Values: formatNames(false), Doc: "how record values decode (avro, protobuf: Confluent-framed, schemas from the registry; debezium-json: change events, read as a changelog; upsert-json: each record upserts its key, a tombstone deletes it)"},
	{Name: "schema.registry.url", Type: "string", Doc: "Confluent Schema Registry address, required by format = 'avro' and 'protobuf'"},
	{Name: "schema.registry.subject", Type: "string", Default: "<topic>-value", Doc: "the registry subject of the value schema (needed when reading several topics)"},
	{Name: "protobuf.message", Type: "string", Default: "the schema's first message", Doc: "format 'protobuf': the message (name or full name) whose fields are the columns when none are declared"},
	{Name: "key", Type: "list", Doc: "format 'upsert-json': the columns the record key stands for (required); a key column the value lacks is read from the record key (its text, or a JSON object of the key columns)"},
	{Name: "group.id", Aliases: []string{"properties.group.id"}, Type: "string", Doc: "consumer group: offsets are committed to it and processes sharing it divide the partitions"},
	{Name: "group.instance.id", Aliases: []string{"properties.group.instance.id"}, Type: "string", Doc: "static group membership (needs group.id)"},
	{Name: "scan.startup.mode", Type: "enum", Default: "earliest (group-offsets with a group.id)", Values: []string{StartEarliest, StartLatest, StartGroupOffsets, StartTimestamp, "earliest-offset", "latest-offset"}, Doc: "where reading starts (Flink's earliest-offset and latest-offset are earliest and latest)"},
	{Name: "scan.startup.timestamp-millis", Type: "integer", Doc: "start at this time (ms since the epoch) with scan.startup.mode = 'timestamp'"},
	{Name: "on_error", Type: "enum", Default: OnErrorFail, Values: []string{OnErrorFail, OnErrorSkip, OnErrorDeadLetter, "dead_letter", "deadletter"}, Doc: "a record that does not decode fails the query (naming topic/partition/offset), is skipped, or goes to 'dead-letter.topic'"},
	{Name: "dead-letter.topic", Type: "string", Doc: "where undecodable records go with on_error = 'dead-letter'"},
	{Name: "json.ignore-parse-errors", Type: "bool", Default: "false", Doc: "Flink's spelling of on_error = 'skip': 'true' skips a record that does not decode"},
	{Name: "json.fail-on-missing-field", Type: "bool", Default: "false", Doc: "Flink's option, accepted as 'false': a missing field reads as NULL (declare the column NOT NULL to refuse it)"},
	{Name: "json.timestamp-format.standard", Type: "enum", Default: "SQL", Values: []string{"SQL", "ISO-8601"}, Doc: "Flink's option; both SQL and ISO-8601 timestamps are read whichever is given"},
	{Name: "isolation.level", Type: "enum", Default: "read_committed", Values: []string{"read_committed", "read-committed", "read_uncommitted", "read-uncommitted"}, Doc: "whether records of aborted transactions are seen"},
	{Name: "partition.key", Type: "string", Doc: "the column records are keyed by, so a grouped query can scale out by partition"},
	{Name: "scale.out", Type: "bool", Default: "true", Doc: "'false': one process reads the whole topic even with a group.id"},
	{Name: "parallelism", Type: "integer", Default: "the topic's partition count", Doc: "partitions of the repartition and changelog topics a scaled-out query over the source creates: the most processes that share its keyed work"},
}, securityDecls())

// SinkOptions are the Kafka sink's WITH options.
var SinkOptions = concat(connOptions, []connectors.Option{
	{Name: "topic", Type: "string", Doc: "the topic to write (required)"},
	{Name: "format", Type: "enum", Default: "json", Values: formatNames(true), Doc: "how rows encode as record values (avro, protobuf: Confluent-framed, schema registered; debezium-json: one change event per change; upsert-json: JSON rows keyed by the key, deletes as tombstones)"},
	{Name: "schema.registry.url", Type: "string", Doc: "Confluent Schema Registry address, required by format = 'avro' and 'protobuf'"},
	{Name: "schema.registry.subject", Type: "string", Default: "<topic>-value", Doc: "the registry subject the result's schema is registered under"},
	{Name: "key", Type: "list", Doc: "columns forming the record key (an updating result is written as an upsert changelog by it; format 'upsert-json' needs a key)"},
	{Name: "delivery", Aliases: []string{"sink.delivery-guarantee"}, Type: "enum", Default: "at-least-once", Values: []string{"at-least-once", "at_least_once", "exactly-once", "exactly_once"}, Doc: "exactly-once writes in Kafka transactions committed with the checkpoint"},
	{Name: "transactional.id", Aliases: []string{"sink.transactional-id-prefix"}, Type: "string", Doc: "stable transactional id for delivery = 'exactly-once'"},
	{Name: "json.timestamp-format.standard", Type: "enum", Default: "SQL", Values: []string{"SQL"}, Doc: "Flink's option: timestamps are written as SQL 'yyyy-MM-dd HH:mm:ss[.f]'"},
	{Name: "json.ignore-parse-errors", Type: "bool", Default: "false", Doc: "Flink's read-side option, accepted so one CREATE TABLE can be read and written; writing ignores it"},
	{Name: "json.fail-on-missing-field", Type: "bool", Default: "false", Doc: "Flink's read-side option, accepted as 'false' (see the source); writing ignores it"},
	{Name: "transaction.timeout", Type: "duration", Default: "1m", Doc: "exactly-once: how long a crashed writer's open transaction stays open, holding read_committed readers of the topic back, before the broker aborts it"},
	{Name: "group.id", Type: "string", Doc: "group whose offsets an exactly-once query commits with its output"},
	{Name: "topic.create", Type: "bool", Default: "true", Doc: "create the topic when it does not exist; 'false' makes a missing topic an error"},
	{Name: "topic.partitions", Type: "integer", Default: "1", Doc: "partitions of a topic the sink creates"},
	{Name: "topic.replication", Type: "integer", Default: "1", Doc: "replication factor of a topic the sink creates"},
}, securityDecls())

// formatDecl is one value format of the Kafka connector: the one list
// the option declarations, the option parsers and the decoders read.
type formatDecl struct {
	name string
	// source and sink: the format can be read, written.
	source, sink bool
	// registry: values are Confluent-framed, with schemas in a Schema
	// Registry ('schema.registry.url').
	registry bool
	// changelog: a source in this format reads changes
	// (exec.ChangelogSource).
	changelog bool
	// keyed: records are upserts of their key ('key' names its columns).
	keyed bool
	// rules: the decoder checks declared NOT NULL and UNSIGNED columns
	// (exec.ConstraintChecker); the text formats share format's rows.
	rules bool
}

// formats are the Kafka value formats, in the order the docs list them.
var formats = []formatDecl{
	{name: "json", source: true, sink: true, rules: true},
	{name: "csv", source: true, sink: true, rules: true},
	{name: "raw", source: true},
	{name: "avro", source: true, sink: true, registry: true},
	{name: "protobuf", source: true, sink: true, registry: true},
	{name: "debezium-json", source: true, sink: true, changelog: true, rules: true},
	{name: "upsert-json", source: true, sink: true, changelog: true, keyed: true, rules: true},
}

// formatNames are the formats a source (sink = false) or sink accepts.
func formatNames(sink bool) []string {
	var out []string
	for _, f := range formats {
		if (sink && f.sink) || (!sink && f.source) {
			out = append(out, f.name)
		}
	}
	return out
}

// formatOf is the declaration of the format name (the zero formatDecl,
// a plain format, for a name not in the table).
func formatOf(name string) formatDecl {
	for _, f := range formats {
		if f.name == name {
			return f
		}
	}
	return formatDecl{name: name}
}

// parseFormat reads the 'format' option (json when absent) of a source or
// sink against the formats table.
func parseFormat(opts connectors.Options, sink bool) (formatDecl, error) {
	name := strings.ToLower(strings.TrimSpace(opts["format"]))
	if name == "" {
		name = "json"
	}
	for _, f := range formats {
		if f.name == name && ((sink && f.sink) || (!sink && f.source)) {
			return f, nil
		}
	}
	what := "source"
	if sink {
		what = "sink"
	}
	return formatDecl{}, optErr("%s 'format' must be one of %s, not %q", what, strings.Join(formatNames(sink), ", "), opts["format"])
}

func concat(lists ...[]connectors.Option) []connectors.Option {
	var out []connectors.Option
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}
