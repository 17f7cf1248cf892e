package sluice_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDebeziumFiles: JSON lines of Debezium envelopes in a file are a
// changelog source like a Debezium topic: columns come from the Connect
// schema of the first event (or, without one, from the sampled after
// images), batch reads the table the changes leave, and a streaming
// aggregate over the file consumes the retractions and folds to the batch
// aggregate.
func TestDebeziumFiles(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	for _, r := range debeziumEvents("x") {
		if r.Value != nil {
			lines = append(lines, string(r.Value))
		}
	}
	plain := strings.Join(lines, "\n") + "\n"
	const schema = `{"type":"struct","fields":[{"type":"struct","optional":true,"field":"before","fields":[{"type":"int32","field":"id"},{"type":"string","field":"category"},{"type":"double","field":"price"}]},{"type":"struct","optional":true,"field":"after","fields":[{"type":"int32","field":"id"},{"type":"string","field":"category"},{"type":"double","field":"price"}]},{"type":"string","field":"op"}]}`
	// The first event carries the schema, which makes price a DOUBLE
	// where the images alone say BIGINT.
	first := `{"schema":` + schema + `,"payload":{"before":null,"after":{"id":9,"category":"z"},"op":"c"}}`
	last := `{"before":{"id":9,"category":"z","price":null},"after":null,"op":"d"}`
	withSchema := first + "\n" + plain + last + "\n"
	for name, text := range map[string]string{"plain.jsonl": plain, "withschema.jsonl": withSchema} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db, mem := kOpen(t, kConfig())
	defer mem.AssertSize(t, 0)
	defer db.Close()
	for name, priceType := range map[string]string{"plain": "BIGINT", "withschema": "DOUBLE"} {
		kExec(t, db, fmt.Sprintf(`CREATE SOURCE %s WITH (connector = 'file', path = '%s', format = 'debezium-json')`, name, filepath.Join(dir, name+".jsonl")))
		var cols []string
		for _, r := range kRows(t, db, "DESCRIBE "+name) {
			cols = append(cols, r[0]+" "+r[1])
		}
		if got, want := strings.Join(cols, ", "), "id BIGINT, category VARCHAR, price "+priceType; got != want {
			t.Errorf("%s: columns %s, want %s", name, got, want)
		}
		if got, want := joinRows(kRows(t, db, "SELECT id, category, price FROM "+name+" ORDER BY id")), "1 a 15|2 b 20|4 c 7"; got != want {
			t.Errorf("%s: batch %s, want %s", name, got, want)
		}
		const agg = "SELECT category, SUM(price) AS total FROM %s GROUP BY category"
		batch := kSumMap(t, kRows(t, db, fmt.Sprintf(agg, name)))
		if want := map[string]int64{"a": 15, "b": 20, "c": 7}; !kEqual(batch, want) {
			t.Errorf("%s: batch aggregate %v, want %v", name, batch, want)
		}
		rows, err := db.Query(t.Context(), fmt.Sprintf(agg, name)+" EMIT CHANGES")
		if err != nil {
			t.Fatal(err)
		}
		got := kFoldUntil(t, rows, batch, 20*time.Second)
		rows.Close()
		if !kEqual(got, batch) {
			t.Errorf("%s: streaming aggregate folds to %v, want the batch result %v", name, got, batch)
		}
	}
}
