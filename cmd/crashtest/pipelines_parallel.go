package main

// Pipelines whose stateful operator runs as key-partitioned instances
// (SET parallelism = 2): a kill finds the state split in one checkpoint
// part per instance, and the restart must give each instance its own
// part back and resume the scan at the offset those parts go with.
// Appended to pipelines in their own file so the shared table stays as
// it is.
func init() { pipelines = append(pipelines, parallelPipelines...) }

// fileSourceNoWatermark is the file input without a watermark: a GROUP
// BY over a bounded scan that carries no event time pre-aggregates each
// decoded batch on the goroutine that decoded it
// (PhysGroupAggregate.PreAggregate), which a source with a watermark
// does not.
const fileSourceNoWatermark = `CREATE SOURCE src (id BIGINT, category VARCHAR, value BIGINT, ts TIMESTAMP)
WITH (connector = 'file', path = '${in}', format = 'csv');
`

var parallelPipelines = []pipeline{
	// The CSV is decoded on two goroutines in scan order, each batch
	// folded into partial rows per group there, and the partials merged
	// by two instances into an upsert changelog: a restart replaying a
	// batch twice (or skipping one) shows as a count that does not grow.
	{name: "file-kafka-preagg-parallel", source: sourceFile, sink: sinkKafkaUpsert, mode: "continuous", countCol: "n", script: `SET parallelism = 2;
` + fileSourceNoWatermark + `
CREATE SINK out WITH (` + kafkaSinkEO + `, key = 'k');
INSERT INTO out SELECT id % 50 AS k, COUNT(*) AS n, SUM(value) AS total, MIN(value) AS lo, MAX(value) AS hi
FROM src GROUP BY id % 50 EMIT CHANGES;`},
	// A keyed TUMBLE aggregate as two instances, each with the windows
	// of its categories (stream.ParallelWindow), each tracking the whole
	// watermark.
	{name: "gen-tumble-final-parallel", source: sourceGenerator, sink: sinkFileDir, mode: "continuous", windowed: true, script: `SET parallelism = 2;
` + generatorSource + `
CREATE SINK out WITH (connector = 'file', path = 'out/', format = 'csv')
AS SELECT window_start, category, COUNT(*) AS n, SUM(value) AS total, MAX(value) AS hi
FROM TUMBLE(src, ts, INTERVAL '500' MILLISECOND)
GROUP BY window_start, category EMIT FINAL;`},
	// Streaming OVER aggregates with PARTITION BY as two instances
	// (stream.ParallelOver), each with its categories' history and
	// running values, each tracking the whole watermark: a restart must
	// give each its part and release every row exactly once.
	{name: "gen-over-changes-parallel", source: sourceGenerator, sink: sinkFileDir, mode: "continuous", script: `SET parallelism = 2;
` + generatorSource + `
CREATE SINK out WITH (connector = 'file', path = 'out/', format = 'csv')
AS SELECT category, value, ts, SUM(value) OVER (PARTITION BY category ORDER BY ts ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS s4,
  COUNT(*) OVER (PARTITION BY category ORDER BY ts) AS n, MAX(value) OVER (PARTITION BY category ORDER BY ts RANGE BETWEEN INTERVAL '2' SECOND PRECEDING AND CURRENT ROW) AS hi2
FROM src EMIT CHANGES;`},
}
