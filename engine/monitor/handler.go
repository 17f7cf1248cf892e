package monitor

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluicesql/sluice/engine"
)

//go:embed page.html
var page []byte

// Handler serves the registry over HTTP:
//
//	GET  /metrics                  Prometheus text format (and the Go runtime's metrics)
//	GET  /                         the live page: running queries, charts, stop buttons
//	GET  /api/queries              the running queries as JSON (what the page polls)
//	POST /api/queries/{id}/stop    stops a query (404 if it is not running)
//
// db, when not nil, adds the session-wide series (state bytes in use).
func Handler(reg *Registry, db *engine.Session) http.Handler {
	pr := prometheus.NewRegistry()
	pr.MustRegister(&collector{reg: reg, db: db, now: time.Now})
	pr.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(pr, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
		w.Write(page)
	})
	mux.HandleFunc("GET /api/queries", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(snapshot(reg.List(), time.Now()))
	})
	mux.HandleFunc("POST /api/queries/{id}/stop", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			http.Error(w, "query id must be a number", http.StatusBadRequest)
			return
		}
		if !reg.Stop(id) {
			http.Error(w, "no running query "+r.PathValue("id"), http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// queryJSON is one running query as /api/queries reports it.
type queryJSON struct {
	ID        int64     `json:"id"`
	SQL       string    `json:"sql"`
	Origin    string    `json:"origin"`
	Started   time.Time `json:"started"`
	Streaming bool      `json:"streaming"`
	RowsIn    int64     `json:"rows_in"`
	RowsOut   int64     `json:"rows_out"`
	LateRows  int64     `json:"late_rows"`
	// WatermarkLag is in seconds; null when the query has no watermark.
	WatermarkLag *float64 `json:"watermark_lag_seconds"`
	StateBytes   int64    `json:"state_bytes"`
	StateGroups  int      `json:"state_groups"`
}

func snapshot(qs []Query, now time.Time) []queryJSON {
	out := make([]queryJSON, len(qs))
	for i, q := range qs {
		j := queryJSON{ID: q.ID, SQL: q.SQL, Origin: q.Origin, Started: q.Started, Streaming: q.Streaming,
			RowsIn: q.Stats.RowsIn, RowsOut: q.Stats.RowsOut, LateRows: q.Stats.LateRows,
			StateBytes: q.Stats.StateBytes, StateGroups: q.Stats.StateGroups}
		if q.Stats.Watermark != 0 {
			lag := now.Sub(time.UnixMicro(q.Stats.Watermark)).Seconds()
			j.WatermarkLag = &lag
		}
		out[i] = j
	}
	return out
}
