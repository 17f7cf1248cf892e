package file

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/connectors"
)

// NewSource's error is ErrNoData exactly when the path holds nothing of
// the format to read (the engine makes a Flink connector table over such
// a path its sink), and keeps its message; a path holding data the
// source cannot read is another error.
func TestSourceErrNoData(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	empty := mk("empty")
	hidden := mk("hidden")
	write(t, filepath.Join(hidden, ".part.csv"), "a\n1\n")
	other := mk("other")
	write(t, filepath.Join(other, "README.txt"), "not data\n")
	listsNone := mk("listsnone")
	write(t, filepath.Join(listsNone, ManifestName), `{"files":[]}`)
	write(t, filepath.Join(listsNone, "stale.csv"), "a\n1\n")
	data := mk("data")
	write(t, filepath.Join(data, "x.csv"), "a\n1\n")
	file := write(t, filepath.Join(dir, "f.csv"), "a\n1\n")
	declared := arrow.NewSchema([]arrow.Field{{Name: "nope", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	for _, c := range []struct {
		name     string
		opts     connectors.Options
		declared *arrow.Schema
		noData   bool
		msg      string
	}{
		{"missing file", connectors.Options{"path": filepath.Join(dir, "gone.csv"), "format": "csv"}, nil, true, "no such file"},
		{"missing path, no format", connectors.Options{"path": filepath.Join(dir, "gone")}, nil, true, "does not exist ('path')"},
		{"empty directory", connectors.Options{"path": empty, "format": "csv"}, nil, true, "no csv files in directory"},
		{"only hidden files", connectors.Options{"path": hidden, "format": "csv"}, nil, true, "no csv files in directory"},
		{"only other formats", connectors.Options{"path": other, "format": "csv"}, nil, true, "no csv files in directory"},
		{"manifest lists none", connectors.Options{"path": listsNone, "format": "csv"}, nil, true, "has no committed files"},
		{"glob matches none", connectors.Options{"path": filepath.Join(dir, "*.json"), "format": "json"}, nil, true, "no files match"},
		{"directory, column missing", connectors.Options{"path": data, "format": "csv"}, declared, false, `"nope"`},
		{"file, column missing", connectors.Options{"path": file, "format": "csv"}, declared, false, `"nope"`},
		{"bad format", connectors.Options{"path": file, "format": "xml"}, nil, false, "unknown format"},
	} {
		_, err := NewSource(c.opts, c.declared)
		if err == nil {
			t.Fatalf("%s: opened", c.name)
		}
		if got := errors.Is(err, ErrNoData); got != c.noData {
			t.Errorf("%s: errors.Is(%q, ErrNoData) = %v, want %v", c.name, err, got, c.noData)
		}
		if !strings.Contains(err.Error(), c.msg) || strings.Contains(err.Error(), ErrNoData.Error()) {
			t.Errorf("%s: error %q, want one saying %q (and not the sentinel's text)", c.name, err, c.msg)
		}
	}
	var oe *connectors.OptionError
	if _, err := NewSource(connectors.Options{"path": filepath.Join(dir, "gone")}, nil); !errors.As(err, &oe) || oe.Option != "path" {
		t.Errorf("a missing path's error %v does not name the 'path' option", err)
	}
}
