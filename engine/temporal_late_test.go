package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestTemporalJoinWarnsLateVersions: when a run ends, the versioned rows
// a temporal join dropped as late (behind the versioned table's own
// watermark) are reported in the session log with their count and the
// table's name, at one instance and at several (ParallelJoin's gate);
// a run that dropped none says nothing.
func TestTemporalJoinWarnsLateVersions(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("orders.csv", "id,cur,ts\n1,EUR,2026-01-01 00:00:01\n2,USD,2026-01-01 00:00:04\n3,EUR,2026-01-01 00:00:06\n4,EUR,2026-01-01 00:00:09\n")
	// USD at 00:00:03 and EUR at 00:00:04 arrive after 00:00:05: behind a
	// watermark without delay.
	write("rates.csv", "cur,rate,ts\nEUR,110,2026-01-01 00:00:00\nEUR,114,2026-01-01 00:00:05\nUSD,100,2026-01-01 00:00:03\nEUR,112,2026-01-01 00:00:04\nUSD,101,2026-01-01 00:00:08\n")
	for _, par := range []int{1, 2} {
		for _, tc := range []struct {
			delay string
			want  int // late versions; 0: no warning
		}{{"0", 2}, {"5", 0}} {
			t.Run(fmt.Sprintf("parallelism=%d/delay=%s", par, tc.delay), func(t *testing.T) {
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				defer mem.AssertSize(t, 0)
				var log strings.Builder
				db, err := Open(Config{BaseDir: dir, Log: &log, Allocator: mem, Parallelism: par})
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				ctx := context.Background()
				for _, s := range []string{
					"CREATE SOURCE o (id BIGINT, cur VARCHAR, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '10' SECOND) WITH (connector = 'file', path = 'orders.csv', format = 'csv')",
					"CREATE SOURCE rates (cur VARCHAR, rate BIGINT, ts TIMESTAMP, PRIMARY KEY (cur) NOT ENFORCED, WATERMARK FOR ts AS ts - INTERVAL '" + tc.delay + "' SECOND) WITH (connector = 'file', path = 'rates.csv', format = 'csv')",
					"SELECT o.id, r.rate FROM o JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON o.cur = r.cur EMIT CHANGES",
				} {
					if err := db.Exec(ctx, s); err != nil {
						t.Fatal(err)
					}
				}
				want := fmt.Sprintf("the temporal join dropped %d late row(s) of the versioned table rates", tc.want)
				got := strings.Contains(log.String(), "late row(s) of the versioned table")
				switch {
				case tc.want > 0 && !strings.Contains(log.String(), want):
					t.Errorf("log %q, want a line with %q", log.String(), want)
				case tc.want == 0 && got:
					t.Errorf("log %q, want no late-version warning", log.String())
				}
			})
		}
	}
}
