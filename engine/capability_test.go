package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/sql"
)

// The engine's connector rules follow the capabilities a source or sink
// declares, not its connector: these test doubles wrap a real generator
// source (or a real stdout sink) and add one capability each.

// groupedSource declares a consumer group and a partition key.
type groupedSource struct {
	exec.Source
	group, key string
	scaled     bool
}

func (s groupedSource) Group() string        { return s.group }
func (s groupedSource) ScaledOut() bool      { return s.scaled }
func (s groupedSource) PartitionKey() string { return s.key }

// stopsAtStart is an unbounded source whose batch scans end.
type stopsAtStart struct{ exec.Source }

func (stopsAtStart) BoundedAtStart() bool { return true }

// appendOnlySink declares that it only appends.
type appendOnlySink struct{ exec.Sink }

func (appendOnlySink) AppendOnly() bool { return true }

func generator(t *testing.T) exec.Source {
	t.Helper()
	src, err := connectors.NewSource(connectors.Env{}, connectors.Options{"connector": "generator", "rows_per_second": "0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func parseQuery(t *testing.T, text string) *sql.Query {
	t.Helper()
	stmts, err := sql.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return stmts[0].(*sql.Query)
}

// TestCapabilityScaleOut: the scale-out rule applies to any GroupSource,
// keyed by its PartitionKeyed column.
func TestCapabilityScaleOut(t *testing.T) {
	const query = "SELECT category, SUM(value) FROM g GROUP BY category EMIT CHANGES"
	for _, tc := range []struct {
		name    string
		src     func(exec.Source) exec.Source
		wantErr string
	}{
		{"plain source", func(s exec.Source) exec.Source { return s }, ""},
		{"group, scaled out, no key", func(s exec.Source) exec.Source { return groupedSource{Source: s, group: "g1", scaled: true} }, `consumer group "g1"`},
		{"group, scaled out, other key", func(s exec.Source) exec.Source {
			return groupedSource{Source: s, group: "g1", scaled: true, key: "value"}
		}, "does not group by value"},
		{"group, scaled out, grouped by key", func(s exec.Source) exec.Source {
			return groupedSource{Source: s, group: "g1", scaled: true, key: "category"}
		}, ""},
		{"group, one process", func(s exec.Source) exec.Source { return groupedSource{Source: s, group: "g1"} }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := Open(Config{})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.RegisterSource("g", tc.src(generator(t)), nil); err != nil {
				t.Fatal(err)
			}
			err, _ = scaleOutError(t, db, query)
			wantError(t, err, tc.wantErr)
		})
	}
}

// TestCapabilityBoundedAtStart: a batch query over an unbounded source is
// refused unless the source is BoundedAtStart.
func TestCapabilityBoundedAtStart(t *testing.T) {
	db, err := Open(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.RegisterSource("endless", generator(t), nil); err != nil {
		t.Fatal(err)
	}
	if err := db.RegisterSource("stops", stopsAtStart{generator(t)}, nil); err != nil {
		t.Fatal(err)
	}
	for name, wantErr := range map[string]bool{"endless": true, "stops": false} {
		q := parseQuery(t, "SELECT COUNT(*) FROM "+name)
		qp, _, err := db.plan(q, "")
		if err != nil {
			t.Fatal(err)
		}
		err = db.checkBounded(q, qp)
		if wantErr && (err == nil || !strings.Contains(err.Error(), "source endless is unbounded")) {
			t.Errorf("%s: error %v, want the unbounded-source error", name, err)
		}
		if !wantErr && err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestCapabilityAppendOnlySink: an updating streaming query into a sink
// that declares AppendOnly is a planning error naming the fix; the same
// sink without the capability takes the changelog.
func TestCapabilityAppendOnlySink(t *testing.T) {
	db, err := Open(Config{})
	if err != nil {
		t.Fatal(err)
	}
	sink, err := connectors.NewSink(connectors.Env{}, connectors.Options{"connector": "stdout"})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.RegisterSource("g", generator(t), nil); err != nil {
		t.Fatal(err)
	}
	if err := db.RegisterSink("appends", appendOnlySink{sink}); err != nil {
		t.Fatal(err)
	}
	if err := db.RegisterSink("updates", sink); err != nil {
		t.Fatal(err)
	}
	q := parseQuery(t, "SELECT category, COUNT(*) FROM g GROUP BY category EMIT CHANGES")
	if _, _, err := db.plan(q, "appends"); err == nil || !strings.Contains(err.Error(), `sink "appends" is append-only`) || !strings.Contains(err.Error(), "EMIT FINAL") {
		t.Errorf("append-only sink: error %v, want the append-only planning error", err)
	}
	if _, _, err := db.plan(q, "updates"); err != nil {
		t.Errorf("changelog sink: %v", err)
	}
}

// TestCapabilityBadRowCounter: bad rows a file reader skips or nulls under
// 'on_error' (exec.BadRowCounter) are reported in the session log when the
// batch query ends, naming the source.
func TestCapabilityBadRowCounter(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "t.csv"), []byte("a,b\n1,x\n2,3\nnope,4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ policy, want string }{
		{"skip", "sluice: source t: skipped 2 bad row(s) ('on_error' = 'skip')"},
		{"null", "sluice: source t: set 2 bad value(s) to NULL ('on_error' = 'null')"},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			var log strings.Builder
			db, err := Open(Config{BaseDir: dir, Log: &log})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if err := db.Exec(ctx, "CREATE SOURCE t (a BIGINT, b BIGINT) WITH (connector = 'file', path = 't.csv', format = 'csv', on_error = '"+tc.policy+"')"); err != nil {
				t.Fatal(err)
			}
			if err := db.Exec(ctx, "SELECT a, b FROM t"); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(log.String(), tc.want) {
				t.Errorf("log %q, want a line %q", log.String(), tc.want)
			}
		})
	}
}
