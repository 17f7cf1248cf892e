package main

// Pipelines of a scaled-out query: several sluice processes run the same
// script with one 'group.id', the keyed operator's rows crossing a Kafka
// repartition topic and its state kept in a changelog topic (see
// docs/scaleout.md). The harness kills one member at a time at random
// moments and at chosen ones of its own transactions, restarts it at once
// (it takes its place back as the same static member) or after the
// session timeout (the others have taken its partitions over), and the
// committed output folded must equal a single process's. Appended to
// pipelines in their own file so the shared table stays as it is.
func init() { pipelines = append(pipelines, scaleOutPipelines...) }

// kafkaSourceScaled is kafkaSource read by a group the members share:
// the GROUP BY keys below are not the topic's partitioning (record i
// goes to partition i%3), so the plan repartitions through Kafka.
const kafkaSourceScaled = `CREATE SOURCE src (id BIGINT, category VARCHAR, value BIGINT, ts TIMESTAMP,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH (connector = 'kafka', topic = '${in}', brokers = '${brokers}', format = 'json',
      'scan.startup.mode' = 'earliest', 'group.id' = '${group}');
`

// scaleOutMembers is how many processes share a scaled-out pipeline's
// group in the interrupted episodes (the clean run has one): as many as
// the input topic has partitions, so each holds one when all are up.
const scaleOutMembers = inputPartitions

var scaleOutPipelines = []pipeline{
	// The running count and sum per category (a non-partition key) as an
	// upsert stream: folded, each category's last row must be the single
	// process's, and each category's counts must grow strictly in the
	// output (a row the restored state counts twice, or an update
	// emitted again by the partition's next owner, breaks it).
	{name: "kafka-kafka-scaleout-changes", source: sourceKafka, sink: sinkKafkaUpsert, mode: "continuous", countCol: "n",
		members: scaleOutMembers, script: kafkaSourceScaled + `
CREATE SINK out WITH (` + kafkaSinkEO + `, key = 'category')
AS SELECT category, COUNT(*) AS n, SUM(value) AS total, MIN(id) AS lo, MAX(id) AS hi
FROM src GROUP BY category EMIT CHANGES;`},
	// Windows per category closed by the watermark that crosses the hop
	// per source partition: every window row exactly once, as an append
	// stream (a window emitted by two owners, or closed before a moved
	// partition's rows arrived, shows as a duplicate or a wrong count).
	{name: "kafka-kafka-scaleout-tumble-final", source: sourceKafka, sink: sinkKafka, mode: "continuous", windowed: true,
		members: scaleOutMembers, script: kafkaSourceScaled + `
CREATE SINK out WITH (` + kafkaSinkEO + `)
AS SELECT window_start, category, COUNT(*) AS n, SUM(value) AS total, MAX(id) AS hi
FROM TUMBLE(src, ts, INTERVAL '100' MILLISECOND)
GROUP BY window_start, category EMIT FINAL;`},
}
