package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"time"
)

// sinkKind is how a pipeline's output is read back and compared.
type sinkKind int

const (
	sinkFileDir     sinkKind = iota // a file sink directory of CSV part files: multiset of lines
	sinkFileSingle                  // one CSV file that grows by each commit: multiset of lines
	sinkKafka                       // an append stream in a Kafka topic: multiset of record values
	sinkKafkaUpsert                 // an upsert changelog in a Kafka topic: folded to the last value per key
)

func (k sinkKind) kafka() bool { return k == sinkKafka || k == sinkKafkaUpsert }

// sourceKind is where a pipeline's input comes from.
type sourceKind int

const (
	sourceFile      sourceKind = iota // a CSV file the harness writes before the runs
	sourceGenerator                   // the generator connector, paced and bounded by max_rows
	sourceKafka                       // a topic the harness produces into while the query runs
)

// pipeline is one query under test. The script is run with sluice -f and
// these --var values: in (input file or topic), out (output path or
// topic), brokers, group, txn (a transactional.id), rows, rate.
type pipeline struct {
	name     string
	source   sourceKind
	sink     sinkKind
	mode     string // "micro-batch" or "continuous", for the report
	windowed bool
	// countCol is the upsert stream's count column, which must grow
	// strictly per key (sinkKafkaUpsert only).
	countCol string
	// members > 0 runs the script as that many processes sharing one
	// consumer group (a scaled-out query, pipelines_scaleout.go); the
	// clean run is one of them alone.
	members int
	script  string
}

// bounded reports whether the query ends by itself (file and generator
// inputs); a Kafka query runs until the harness stops it.
func (p pipeline) bounded() bool { return p.source != sourceKafka }

// The group stores the query's offsets (an exactly-once sink commits them
// in its transactions); one process reads the whole topic.
const kafkaSource = `CREATE SOURCE src (id BIGINT, category VARCHAR, value BIGINT, ts TIMESTAMP,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH (connector = 'kafka', topic = '${in}', brokers = '${brokers}', format = 'json',
      'scan.startup.mode' = 'earliest', 'group.id' = '${group}', 'scale.out' = 'false');
`

const fileSource = `CREATE SOURCE src (id BIGINT, category VARCHAR, value BIGINT, ts TIMESTAMP,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH (connector = 'file', path = '${in}', format = 'csv');
`

// The generator's rows are a pure function of (seed, row index) and its
// offset is the row index, so a restart replays exactly; event time
// advances by 1/rate per row whatever the pacing.
const generatorSource = `CREATE SOURCE src (category VARCHAR, value BIGINT, ts TIMESTAMP,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH (connector = 'generator', rows_per_second = '${rate}', max_rows = '${rows}', categories = '5',
      seed = '11', max_out_of_orderness = '500ms');
`

// generatorSource2 is a second generator source with its own seed and
// its own watermark, for the two-source pipelines.
const generatorSource2 = `CREATE SOURCE src2 (category VARCHAR, value BIGINT, ts TIMESTAMP,
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH (connector = 'generator', rows_per_second = '${rate}', max_rows = '${rows}', categories = '7',
      seed = '12', max_out_of_orderness = '300ms');
`

const kafkaSinkEO = `connector = 'kafka', topic = '${out}', brokers = '${brokers}', format = 'json',
  delivery = 'exactly-once', 'transactional.id' = '${txn}'`

// pipelines is every pipeline the harness knows, in report order.
var pipelines = []pipeline{
	{name: "file-filter-every", source: sourceFile, sink: sinkFileSingle, mode: "micro-batch", script: fileSource + `
CREATE SINK out WITH (connector = 'file', path = 'out/all.csv', format = 'csv')
AS SELECT id, category, value FROM src WHERE value < 50 EMIT EVERY 100ms;`},
	{name: "file-hop-final", source: sourceFile, sink: sinkFileDir, mode: "continuous", windowed: true, script: fileSource + `
CREATE SINK out WITH (connector = 'file', path = 'out/', format = 'csv')
AS SELECT window_start, category, COUNT(*) AS n, SUM(value) AS total
FROM HOP(src, ts, INTERVAL '100' MILLISECOND, INTERVAL '2' SECOND)
GROUP BY window_start, category EMIT FINAL;`},
	{name: "gen-filter-every", source: sourceGenerator, sink: sinkFileDir, mode: "micro-batch", script: generatorSource + `
CREATE SINK out WITH (connector = 'file', path = 'out/', format = 'csv')
AS SELECT ts, category, value FROM src WHERE value < 500 EMIT EVERY 300ms;`},
	{name: "gen-tumble-every", source: sourceGenerator, sink: sinkFileDir, mode: "micro-batch", windowed: true, script: generatorSource + `
CREATE SINK out WITH (connector = 'file', path = 'out/', format = 'csv')
AS SELECT window_start, category, COUNT(*) AS n, SUM(value) AS total
FROM TUMBLE(src, ts, INTERVAL '1' SECOND)
GROUP BY window_start, category EMIT EVERY 500ms;`},
	{name: "gen-tumble-final", source: sourceGenerator, sink: sinkFileDir, mode: "continuous", windowed: true, script: generatorSource + `
CREATE SINK out WITH (connector = 'file', path = 'out/', format = 'csv')
AS SELECT window_start, category, COUNT(*) AS n, SUM(value) AS total
FROM TUMBLE(src, ts, INTERVAL '1' SECOND)
GROUP BY window_start, category EMIT FINAL;`},
	{name: "gen2-union-tumble-final", source: sourceGenerator, sink: sinkFileDir, mode: "continuous", windowed: true, script: generatorSource + generatorSource2 + `
CREATE SINK out WITH (connector = 'file', path = 'out/', format = 'csv')
AS SELECT window_start, category, COUNT(*) AS n, SUM(value) AS total
FROM (SELECT window_start, category, value FROM TUMBLE(src, ts, INTERVAL '1' SECOND)
      UNION ALL SELECT window_start, category, value FROM TUMBLE(src2, ts, INTERVAL '1' SECOND)) u
GROUP BY window_start, category EMIT FINAL;`},
	{name: "gen2-interval-join-changes", source: sourceGenerator, sink: sinkFileDir, mode: "continuous", script: generatorSource + generatorSource2 + `
CREATE SINK out WITH (connector = 'file', path = 'out/', format = 'csv')
AS SELECT a.ts AS ts, a.category, a.value AS v1, b.value AS v2
FROM src a JOIN src2 b ON a.category = b.category
  AND b.ts BETWEEN a.ts - INTERVAL '20' MILLISECOND AND a.ts + INTERVAL '20' MILLISECOND
WHERE a.value < 200 AND b.value < 200 EMIT CHANGES;`},
	{name: "kafka-kafka-filter-changes", source: sourceKafka, sink: sinkKafka, mode: "continuous", script: kafkaSource + `
CREATE SINK out WITH (` + kafkaSinkEO + `)
AS SELECT id, category, value FROM src WHERE value < 700 EMIT CHANGES;`},
	{name: "kafka-kafka-agg-changes", source: sourceKafka, sink: sinkKafkaUpsert, mode: "continuous", countCol: "n", script: kafkaSource + `
CREATE SINK out WITH (` + kafkaSinkEO + `, key = 'category')
AS SELECT category, COUNT(*) AS n, SUM(value) AS total FROM src GROUP BY category EMIT CHANGES;`},
	{name: "kafka-kafka-agg-parallel", source: sourceKafka, sink: sinkKafkaUpsert, mode: "continuous", countCol: "n", script: `SET parallelism = 4;
` + kafkaSource + `
CREATE SINK out WITH (` + kafkaSinkEO + `, key = 'category')
AS SELECT category, COUNT(*) AS n, SUM(value) AS total FROM src GROUP BY category EMIT CHANGES;`},
	// A GROUP BY over 3,000 keys against a 256 KiB memory limit spills
	// its cold groups to disk (SET spill_dir): a kill finds groups in the
	// store, and the restart must restore them from the checkpoint (a
	// forgotten group's count would start again, which countCol catches).
	{name: "kafka-kafka-agg-spill", source: sourceKafka, sink: sinkKafkaUpsert, mode: "continuous", countCol: "n", script: `SET memory_limit = '256KiB';
SET spill_dir = 'spill';
` + kafkaSource + `
CREATE SINK out WITH (` + kafkaSinkEO + `, key = 'k')
AS SELECT id % 3000 AS k, COUNT(*) AS n, SUM(value) AS total FROM src GROUP BY id % 3000 EMIT CHANGES;`},
	{name: "kafka-kafka-filter-every", source: sourceKafka, sink: sinkKafka, mode: "micro-batch", script: kafkaSource + `
CREATE SINK out WITH (` + kafkaSinkEO + `)
AS SELECT id, category, value FROM src WHERE value >= 300 EMIT EVERY 300ms;`},
	{name: "kafka-kafka-tumble-final", source: sourceKafka, sink: sinkKafka, mode: "continuous", windowed: true, script: kafkaSource + `
CREATE SINK out WITH (` + kafkaSinkEO + `)
AS SELECT window_start, category, COUNT(*) AS n, SUM(value) AS total
FROM TUMBLE(src, ts, INTERVAL '1' SECOND)
GROUP BY window_start, category EMIT FINAL;`},
	{name: "kafka-file-filter-every", source: sourceKafka, sink: sinkFileDir, mode: "micro-batch", script: kafkaSource + `
CREATE SINK out WITH (connector = 'file', path = 'out/', format = 'csv')
AS SELECT id, category, value FROM src WHERE value < 400 EMIT EVERY 300ms;`},
	{name: "kafka-file-tumble-every", source: sourceKafka, sink: sinkFileDir, mode: "micro-batch", windowed: true, script: kafkaSource + `
CREATE SINK out WITH (connector = 'file', path = 'out/', format = 'csv')
AS SELECT window_start, category, COUNT(*) AS n, SUM(value) AS total
FROM TUMBLE(src, ts, INTERVAL '1' SECOND)
GROUP BY window_start, category EMIT EVERY 500ms;`},
	{name: "kafka-file-tumble-final", source: sourceKafka, sink: sinkFileDir, mode: "continuous", windowed: true, script: kafkaSource + `
CREATE SINK out WITH (connector = 'file', path = 'out/', format = 'csv')
AS SELECT window_start, category, COUNT(*) AS n, SUM(value) AS total
FROM TUMBLE(src, ts, INTERVAL '1' SECOND)
GROUP BY window_start, category EMIT FINAL;`},
}

// scale sizes the inputs: paced inputs (generator, Kafka) last about
// Seconds of wall time at Rate rows a second; a file has FileRows rows
// (read as fast as the query goes).
type scale struct {
	Seconds  float64
	Rate     float64
	FileRows int
	// FileRun is the shortest clean run of a file pipeline: a shorter
	// one has its input grown (up to maxFileRows) and is run again, so
	// that random kills land while the query runs. Zero keeps FileRows.
	FileRun time.Duration
}

// maxFileRows bounds the grown input of a file pipeline (~37 bytes a row).
const maxFileRows = 64_000_000

// fileRowsFor is the input size of p's next clean run after one of rows
// rows took dur; rows itself when that run was long enough.
func (s scale) fileRowsFor(p pipeline, rows int, dur time.Duration) int {
	if p.source != sourceFile || s.FileRun <= 0 || dur >= s.FileRun || rows >= maxFileRows {
		return rows
	}
	grow := math.Ceil(1.25 * float64(s.FileRun) / float64(max(dur, time.Millisecond)))
	return int(min(float64(maxFileRows), float64(rows)*max(2, grow)))
}

func (s scale) pacedRows() int { return int(s.Seconds * s.Rate) }

// writeInputCSV writes the file pipelines' input: id, category, value and
// an event time 1 ms apart, in order (so no row is late), values a pure
// function of the row index.
func writeInputCSV(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "id,category,value,ts")
	for i := 0; i < n; i++ {
		h := mix(uint64(i))
		ts := inputBase.Add(time.Duration(i) * time.Millisecond)
		fmt.Fprintf(w, "%d,c%d,%d,%s\n", i, h%5, mix(h)%1000, ts.Format("2006-01-02 15:04:05.000"))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
