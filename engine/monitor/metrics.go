package monitor

import (
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicesql/sluice/engine"
)

// collector exports the registry's running queries as Prometheus metrics,
// read when scraped (nothing is sampled in between). Every per-query
// series carries the query_id label that the live page and the stop
// endpoint use; sluice_query_info maps it to the SQL text.
type collector struct {
	reg *Registry
	db  *engine.Session // nil: no session-wide series
	now func() time.Time
}

var (
	descRunning    = prometheus.NewDesc("sluice_running_queries", "Queries running on the server.", nil, nil)
	descSession    = prometheus.NewDesc("sluice_state_bytes_in_use", "Bytes the state of all the session's queries holds (what the memory limit counts).", nil, nil)
	descInfo       = prometheus.NewDesc("sluice_query_info", "A running query: its SQL text and where it runs (value 1).", []string{"query_id", "sql", "origin", "streaming"}, nil)
	descStarted    = prometheus.NewDesc("sluice_query_start_time_seconds", "When the query started, in seconds since the epoch.", []string{"query_id"}, nil)
	descRowsIn     = prometheus.NewDesc("sluice_query_rows_in_total", "Rows the streaming query has read from its sources.", []string{"query_id"}, nil)
	descRowsOut    = prometheus.NewDesc("sluice_query_rows_out_total", "Rows the streaming query has emitted.", []string{"query_id"}, nil)
	descLate       = prometheus.NewDesc("sluice_query_late_rows_total", "Rows dropped or routed because their window had closed.", []string{"query_id"}, nil)
	descWatermark  = prometheus.NewDesc("sluice_query_watermark_seconds", "The query's event-time watermark, in seconds since the epoch.", []string{"query_id"}, nil)
	descLag        = prometheus.NewDesc("sluice_query_watermark_lag_seconds", "How far the watermark trails processing time.", []string{"query_id"}, nil)
	descStateBytes = prometheus.NewDesc("sluice_query_state_bytes", "Bytes held by the query's stateful operators.", []string{"query_id"}, nil)
	descGroups     = prometheus.NewDesc("sluice_query_state_groups", "Groups (keys) held by the query's stateful operators.", []string{"query_id"}, nil)
	descBytesRead  = prometheus.NewDesc("sluice_query_bytes_read_total", "Bytes of input the query has read (sources that count them: Kafka record keys and values).", []string{"query_id"}, nil)
	descKafkaLag   = prometheus.NewDesc("sluice_kafka_consumer_lag", "Records a Kafka partition holds past the query's position (high watermark at the last fetch minus the next offset).", []string{"query_id", "topic", "partition"}, nil)
	descCkpts      = prometheus.NewDesc("sluice_query_checkpoints_total", "Checkpoints the query has written.", []string{"query_id"}, nil)
	descCkptTook   = prometheus.NewDesc("sluice_query_last_checkpoint_duration_seconds", "How long writing and syncing the last checkpoint took.", []string{"query_id"}, nil)
	descCkptBytes  = prometheus.NewDesc("sluice_query_last_checkpoint_bytes", "Bytes the last checkpoint wrote (state and manifest).", []string{"query_id"}, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRunning, descSession, descInfo, descStarted, descRowsIn, descRowsOut, descLate, descWatermark, descLag, descStateBytes, descGroups, descBytesRead, descKafkaLag, descCkpts, descCkptTook, descCkptBytes} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	qs := c.reg.List()
	ch <- prometheus.MustNewConstMetric(descRunning, prometheus.GaugeValue, float64(len(qs)))
	if c.db != nil {
		ch <- prometheus.MustNewConstMetric(descSession, prometheus.GaugeValue, float64(c.db.StateBytes()))
	}
	now := c.now()
	for _, q := range qs {
		id := strconv.FormatInt(q.ID, 10)
		ch <- prometheus.MustNewConstMetric(descInfo, prometheus.GaugeValue, 1, id, q.SQL, q.Origin, strconv.FormatBool(q.Streaming))
		ch <- prometheus.MustNewConstMetric(descStarted, prometheus.GaugeValue, float64(q.Started.UnixNano())/1e9, id)
		if !q.Streaming {
			continue
		}
		st := q.Stats
		ch <- prometheus.MustNewConstMetric(descRowsIn, prometheus.CounterValue, float64(st.RowsIn), id)
		ch <- prometheus.MustNewConstMetric(descRowsOut, prometheus.CounterValue, float64(st.RowsOut), id)
		ch <- prometheus.MustNewConstMetric(descLate, prometheus.CounterValue, float64(st.LateRows), id)
		ch <- prometheus.MustNewConstMetric(descStateBytes, prometheus.GaugeValue, float64(st.StateBytes), id)
		ch <- prometheus.MustNewConstMetric(descGroups, prometheus.GaugeValue, float64(st.StateGroups), id)
		if st.Lag != nil { // the source reports its progress
			ch <- prometheus.MustNewConstMetric(descBytesRead, prometheus.CounterValue, float64(st.BytesRead), id)
			for key, lag := range st.Lag {
				i := strings.LastIndexByte(key, '/')
				if i < 0 {
					continue
				}
				ch <- prometheus.MustNewConstMetric(descKafkaLag, prometheus.GaugeValue, float64(lag), id, key[:i], key[i+1:])
			}
		}
		if st.Checkpoints > 0 {
			ch <- prometheus.MustNewConstMetric(descCkpts, prometheus.CounterValue, float64(st.Checkpoints), id)
			ch <- prometheus.MustNewConstMetric(descCkptTook, prometheus.GaugeValue, st.CheckpointDuration.Seconds(), id)
			ch <- prometheus.MustNewConstMetric(descCkptBytes, prometheus.GaugeValue, float64(st.CheckpointBytes), id)
		}
		if st.Watermark != 0 {
			wm := time.UnixMicro(st.Watermark)
			ch <- prometheus.MustNewConstMetric(descWatermark, prometheus.GaugeValue, float64(st.Watermark)/1e6, id)
			ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, now.Sub(wm).Seconds(), id)
		}
	}
}
