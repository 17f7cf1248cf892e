package file

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/exec"
)

func write(t *testing.T, path, data string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// scan reads every batch and renders rows as "a|b|c" strings.
func scan(t *testing.T, src exec.Source, spec exec.ScanSpec) ([]string, *Reader, error) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r, err := src.Open(context.Background(), mem, spec)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	var rows []string
	for {
		b, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return rows, r.(*Reader), nil
		}
		if err != nil {
			return rows, r.(*Reader), err
		}
		for i := 0; i < int(b.Record.NumRows()); i++ {
			var parts []string
			for c := 0; c < int(b.Record.NumCols()); c++ {
				parts = append(parts, format.FormatValue(b.Record.Column(c), i))
			}
			rows = append(rows, strings.Join(parts, "|"))
		}
		b.Record.Release()
	}
}

func TestCSVSource(t *testing.T) {
	dir := t.TempDir()
	p := write(t, filepath.Join(dir, "sales.csv"),
		"category;value;note\n\"a;x\";1;\"multi\nline \"\"q\"\"\"\nb;NA;plain\r\nc;3;NA\n")
	src, err := NewSource(connectors.Options{"path": p, "delimiter": ";", "null": "NA"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := src.Schema()
	if s.NumFields() != 3 || s.Field(1).Type.ID() != arrow.INT64 || s.Field(0).Name != "category" {
		t.Fatalf("inferred %s", s)
	}
	for _, bs := range []int{1, 2, 1024} {
		rows, r, err := scan(t, src, exec.ScanSpec{BatchSize: bs})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"a;x|1|multi\nline \"q\"", "b|NULL|plain", "c|3|NULL"}
		if strings.Join(rows, "\n#") != strings.Join(want, "\n#") {
			t.Errorf("batch %d: got %q", bs, rows)
		}
		if got := r.Offsets()["file:"+p]; got != 3 {
			t.Errorf("offsets %v", r.Offsets())
		}
	}
	// Projection, reordered.
	rows, _, err := scan(t, src, exec.ScanSpec{Columns: []int{1, 0}})
	if err != nil || strings.Join(rows, ",") != "1|a;x,NULL|b,3|c" {
		t.Errorf("projection: %q %v", rows, err)
	}
	// Resume from offsets skips rows already read.
	rows, _, err = scan(t, src, exec.ScanSpec{Columns: []int{0}, From: exec.Offsets{"file:" + p: 2}})
	if err != nil || strings.Join(rows, ",") != "c" {
		t.Errorf("resume: %q %v", rows, err)
	}
}

func TestCSVDeclaredSchemaByHeader(t *testing.T) {
	dir := t.TempDir()
	p := write(t, filepath.Join(dir, "t.csv"), "value,category\n1,a\n2,b\n")
	declared := arrow.NewSchema([]arrow.Field{
		{Name: "category", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "value", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	src, err := NewSource(connectors.Options{"path": p}, declared)
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := scan(t, src, exec.ScanSpec{})
	if err != nil || strings.Join(rows, ",") != "a|1,b|2" {
		t.Errorf("got %q %v", rows, err)
	}
}

func TestBadRows(t *testing.T) {
	dir := t.TempDir()
	p := write(t, filepath.Join(dir, "sales.csv"), "category,value\na,1\n\"b\nb\",2\nc,abc\nd\ne,5\n")
	for _, tc := range []struct {
		onError string
		want    string
		err     string
		skipped int64
		nulled  int64
	}{
		{"fail", "", `sales.csv:5: column "value": cannot parse "abc" as BIGINT`, 0, 0},
		{"skip", "a|1,b\nb|2,e|5", "", 2, 0},
		{"null", "a|1,b\nb|2,c|NULL,d|NULL,e|5", "", 0, 2},
	} {
		t.Run(tc.onError, func(t *testing.T) {
			src, err := NewSource(connectors.Options{"path": p, "on_error": tc.onError}, nil)
			if err != nil {
				t.Fatal(err)
			}
			// Inference saw "abc": value is VARCHAR; declare it instead.
			declared := arrow.NewSchema([]arrow.Field{
				{Name: "category", Type: arrow.BinaryTypes.String, Nullable: true},
				{Name: "value", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
			}, nil)
			src.schema = declared
			rows, r, err := scan(t, src, exec.ScanSpec{})
			if tc.err != "" {
				if err == nil || !strings.HasSuffix(err.Error(), tc.err) {
					t.Fatalf("got %v, want …%s", err, tc.err)
				}
				var fe *format.FieldError
				if !errors.As(err, &fe) {
					t.Errorf("not a FieldError: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(rows, ","); got != tc.want {
				t.Errorf("got %q want %q", got, tc.want)
			}
			if st := r.Stats(); st.Skipped != tc.skipped || st.Nulled != tc.nulled {
				t.Errorf("stats %+v", st)
			}
		})
	}
	// A short row fails with its line too.
	src, err := NewSource(connectors.Options{"path": p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = scan(t, src, exec.ScanSpec{})
	var re *format.RowError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "sales.csv:6:") {
		t.Errorf("short row: %v", err)
	}
}

func TestGlobAndDirectory(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "b.csv"), "x\n3\n4\n")
	write(t, filepath.Join(dir, "a.csv"), "x\n1\n2\n")
	write(t, filepath.Join(dir, "notes.txt"), "ignored\n")
	for _, path := range []string{dir, filepath.Join(dir, "*.csv")} {
		src, err := NewSource(connectors.Options{"path": path, "format": "csv"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		rows, r, err := scan(t, src, exec.ScanSpec{BatchSize: 3})
		if err != nil || strings.Join(rows, ",") != "1,2,3,4" {
			t.Errorf("%s: %q %v", path, rows, err)
		}
		if len(r.Offsets()) != 2 {
			t.Errorf("offsets %v", r.Offsets())
		}
	}
	if _, err := NewSource(connectors.Options{"path": filepath.Join(dir, "*.parquet")}, nil); err == nil {
		t.Error("empty glob: want error")
	}
}

func TestJSONSource(t *testing.T) {
	dir := t.TempDir()
	p := write(t, filepath.Join(dir, "e.json"),
		`{"category":"a","value":1,"ts":"2026-01-01T00:00:05Z"}`+"\n\n"+
			`{"value":2,"category":"b","other":[1,2]}`+"\n"+`{"category":"c","value":"x"}`)
	src, err := NewSource(connectors.Options{"path": p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if src.Schema().NumFields() != 4 {
		t.Fatalf("schema %s", src.Schema())
	}
	declared := arrow.NewSchema([]arrow.Field{
		{Name: "category", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "value", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "ts", Type: format.TimestampType, Nullable: true},
	}, nil)
	src, err = NewSource(connectors.Options{"path": p}, declared)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = scan(t, src, exec.ScanSpec{})
	if err == nil || !strings.Contains(err.Error(), "e.json:4: column \"value\"") {
		t.Errorf("got %v", err)
	}
	src, err = NewSource(connectors.Options{"path": p, "on_error": "skip"}, declared)
	if err != nil {
		t.Fatal(err)
	}
	// Only projected columns are parsed, so the bad value in the
	// unprojected column does not drop its row.
	rows, _, err := scan(t, src, exec.ScanSpec{Columns: []int{2, 0}})
	if err != nil || strings.Join(rows, ",") != "2026-01-01 00:00:05|a,NULL|b,NULL|c" {
		t.Errorf("got %q %v", rows, err)
	}
}

func TestSinkTempAndRename(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	schema := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	rec, _, err := array.RecordFromJSON(mem, schema, strings.NewReader(`[{"a":1},{"a":null}]`))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	ctx := context.Background()
	for _, f := range []string{"csv", "json", "parquet"} {
		target := filepath.Join(dir, "out."+f)
		sink, err := NewSink(connectors.Options{"path": target})
		if err != nil {
			t.Fatal(err)
		}
		w, err := sink.Open(ctx, mem, schema, exec.SinkMode{})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(ctx, rec); err != nil {
			t.Fatal(err)
		}
		w.Close() // no commit: nothing published, no temp left
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Fatalf("%s: left %v", f, ents)
		}
	}
	sink, err := NewSink(connectors.Options{"path": filepath.Join(dir, "x.csv")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Open(ctx, mem, schema, exec.SinkMode{Changelog: true}); !errors.Is(err, ErrAppendOnly) {
		t.Errorf("changelog: %v", err)
	}
	// Single CSV file growing over two commits, header once.
	w, _ := sink.Open(ctx, mem, schema, exec.SinkMode{})
	for i := 0; i < 2; i++ {
		if err := w.Write(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	b, _ := os.ReadFile(filepath.Join(dir, "x.csv"))
	if string(b) != "a\n1\n\n1\n\n" {
		t.Errorf("x.csv = %q", b)
	}
	// Directory sink: one part per non-empty commit.
	out := filepath.Join(dir, "parts") + "/"
	sink, err = NewSink(connectors.Options{"path": out, "format": "json"})
	if err != nil {
		t.Fatal(err)
	}
	w, _ = sink.Open(ctx, mem, schema, exec.SinkMode{})
	for i := 0; i < 2; i++ {
		_ = w.Write(ctx, rec)
		if err := w.Commit(ctx, nil); err != nil {
			t.Fatal(err)
		}
		_ = w.Commit(ctx, nil) // empty: no part
	}
	w.Close()
	ents, _ := os.ReadDir(out)
	var names []string
	for _, e := range ents {
		if e.Name() != ManifestName {
			names = append(names, e.Name())
		}
	}
	listed, _, err := readManifest(out)
	if err != nil || len(names) != 2 || strings.Join(listed, ",") != strings.Join(names, ",") {
		t.Fatalf("parts %v, manifest %v (%v): want two parts, both listed", names, listed, err)
	}
	for i, n := range names {
		if run, num, ok := partInfo(n); !ok || num != i || run == "" || !strings.HasSuffix(n, ".json") {
			t.Errorf("part %d is named %q, want part-<run>-%05d.json", i, n, i)
		}
	}
	b, _ = os.ReadFile(filepath.Join(out, names[1]))
	if string(b) != "{\"a\":1}\n{\"a\":null}\n" {
		t.Errorf("part = %q", b)
	}
}
