package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/sql"
)

// fileTableOptions maps the DuckDB options of read_csv/read_json/
// read_parquet to the file connector's; the value "" marks an option
// accepted only at its default (given below in fileTableDefaults).
var fileTableOptions = map[string]string{
	"header": "header", "delim": "delimiter", "sep": "delimiter", "delimiter": "delimiter",
	"nullstr": "null", "null": "null", "on_error": "on_error",
	"format": "", "auto_detect": "",
}

// fileTableDefaults are the only values the options mapped to "" take.
var fileTableDefaults = map[string][]string{
	"format":      {"newline_delimited", "auto", "csv", "parquet", "json", "jsonl", "ndjson"},
	"auto_detect": {"true"},
}

// addFileTables opens a source in cat for each file q reads as a table
// ('orders.csv', read_csv(…)), under the placeholder name the planner
// binds. They pass through the file connector, so the sandbox
// (Config.FileRoot) confines them as it does CREATE SOURCE.
func (db *Session) addFileTables(q *sql.Query, cat *Catalog) error {
	names := make([]string, 0, len(q.Files))
	for name := range q.Files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ft := q.Files[name]
		opts := sql.Options{{Key: "connector", Value: "file"}, {Key: "path", Value: ft.Paths[0]}}
		if len(ft.Paths) > 1 {
			// read_csv(['a.csv', 'b.csv']): one source of all, in order.
			ps, err := json.Marshal(ft.Paths)
			if err != nil {
				return err
			}
			opts[1] = sql.Option{Key: "paths", Value: string(ps)}
		}
		if ft.Format != "" {
			opts = append(opts, sql.Option{Key: "format", Value: ft.Format})
		}
		for _, o := range ft.Options {
			to, ok := fileTableOptions[o.Key]
			if !ok {
				return sql.Errorf(sql.BindError, o.Pos, "unsupported option %s of a file table (have %s)", o.Key, optionNames())
			}
			if to == "" {
				if !slices.Contains(fileTableDefaults[o.Key], strings.ToLower(o.Value)) {
					return sql.Errorf(sql.BindError, o.Pos, "option %s = %q is not supported (only %s)", o.Key, o.Value, strings.Join(fileTableDefaults[o.Key], ", "))
				}
				continue
			}
			opts = append(opts, sql.Option{Key: to, Value: o.Value, Pos: o.Pos})
		}
		copts := db.options(opts)
		src, err := connectors.NewSource(db.conn, copts, nil)
		if err != nil {
			what := fmt.Sprintf("file %q", ft.Paths[0])
			if len(ft.Paths) > 1 {
				what = fmt.Sprintf("files %q", ft.Paths)
			}
			return &sql.Error{Kind: sql.ConnectorError, Pos: ft.Pos, Msg: fmt.Sprintf("%s: %v", what, err), Err: err}
		}
		def := &planner.SourceDef{Name: name, Schema: src.Schema(), Options: copts, Bounded: src.Bounded(), Morsels: splitsIntoMorsels(src)}
		if err := cat.AddSource(def, src); err != nil {
			return sql.Errorf(sql.BindError, ft.Pos, "%v", err)
		}
	}
	return nil
}

func optionNames() string {
	var ks []string
	for k := range fileTableOptions {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}
