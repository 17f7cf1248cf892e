package engine

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestNexmarkSource: the nexmark connector's streams come with a watermark
// on dateTime, so a windowed EMIT FINAL query runs without WATERMARK FOR
// and equals its batch twin; bids join auctions of the same sequence.
func TestNexmarkSource(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	db, err := Open(Config{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.Exec(ctx, `CREATE SOURCE bid WITH (connector = 'nexmark', table = 'bid', events = '100000');
		CREATE SOURCE auction WITH (connector = 'nexmark', table = 'auction', events = '100000')`); err != nil {
		t.Fatal(err)
	}
	if got := queryLines(t, db, "SELECT COUNT(*), MIN(`dateTime`) FROM bid"); !slices.Equal(got, []string{"92000\t2026-01-01 00:00:00Z"}) {
		t.Errorf("bids: %q", got)
	}
	q := "SELECT window_start, COUNT(*) AS n, MAX(price) AS top FROM TUMBLE(bid, `dateTime`, INTERVAL '1' SECOND) GROUP BY window_start"
	batch := queryLines(t, db, q+" ORDER BY window_start")
	stream := queryLines(t, db, q+" EMIT FINAL")
	slices.Sort(stream)
	if len(batch) != 10 || !slices.Equal(stream, batch) {
		t.Errorf("EMIT FINAL:\n%s\nbatch:\n%s", strings.Join(stream, "\n"), strings.Join(batch, "\n"))
	}
	// Nearly every bid names an auction of the same sequence.
	got := queryLines(t, db, "SELECT COUNT(*) FROM bid b JOIN auction a ON b.auction = a.id")
	if len(got) != 1 || got[0] < "90000" || len(got[0]) != 5 {
		t.Errorf("bids joining auctions: %q, want over 90000 of 92000", got)
	}
}
