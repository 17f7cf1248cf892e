package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/sql"
)

// copyOptions maps COPY's options to the file sink's.
var copyOptions = map[string]string{"format": "format", "header": "header", "delimiter": "delimiter", "delim": "delimiter", "sep": "delimiter", "compression": "compression", "codec": "compression", "row_group_size": "row_group_rows"}

// copyTo runs COPY … TO 'path' as a batch INSERT into a file sink made for
// it: the format follows the path's extension unless FORMAT names it, the
// file appears whole at commit (nothing half-written on an error), and
// the sandbox confines the path as for CREATE SINK.
func (db *Session) copyTo(ctx context.Context, s *sql.Copy) (*Rows, error) {
	q := s.Query
	if q == nil {
		stmts, err := sql.ParseAt("SELECT * FROM `"+strings.ReplaceAll(s.Table, "`", "``")+"`", s.Position())
		if err != nil {
			return nil, err
		}
		q = stmts[0].(*sql.Query)
	}
	// COPY TO replaces the file, as DuckDB's and PostgreSQL's do (a
	// CREATE SINK refuses existing data unless its 'mode' says otherwise).
	opts := sql.Options{{Key: "connector", Value: "file"}, {Key: "path", Value: s.Path}, {Key: "mode", Value: "overwrite"}}
	for _, o := range s.Options {
		to, ok := copyOptions[o.Key]
		if !ok {
			return nil, sql.Errorf(sql.BindError, o.Pos, "unsupported COPY option %s (have compression, delimiter, format, header, row_group_size)", o.Key)
		}
		v := o.Value
		if to == "format" {
			v = strings.ToLower(v)
		}
		opts = append(opts, sql.Option{Key: to, Value: v, Pos: o.Pos})
	}
	copts := db.options(opts)
	sink, err := connectors.NewSink(db.conn, copts)
	if err != nil {
		// An option's error points at the option as written.
		pos := s.Position()
		var oe *connectors.OptionError
		if errors.As(err, &oe) {
			for _, o := range s.Options {
				if copyOptions[o.Key] == oe.Option {
					pos = o.Pos
				}
			}
		}
		return nil, &sql.Error{Kind: sql.ConnectorError, Pos: pos, Msg: fmt.Sprintf("COPY TO %q: %v", s.Path, err), Err: err}
	}
	tmp := "$copy " + s.Path
	db.mu.Lock()
	err = db.cat.AddSink(&planner.SinkDef{Name: tmp, Options: copts, AppendOnly: appendOnly(sink)}, sink)
	db.mu.Unlock()
	if err != nil {
		return nil, sql.Errorf(sql.PlanError, s.Position(), "%v", err)
	}
	defer func() {
		db.mu.Lock()
		_ = db.cat.DropSink(tmp)
		db.mu.Unlock()
	}()
	rows, err := db.insert(ctx, tmp, q, s.Position())
	if err != nil {
		// The temporary sink's name is the engine's, not the user's:
		// errors say COPY TO and the path written.
		var se *sql.Error
		if errors.As(err, &se) {
			named := *se
			named.Msg = strings.ReplaceAll(strings.ReplaceAll(se.Msg, "sink "+tmp, fmt.Sprintf("COPY TO %q", s.Path)), tmp, s.Path)
			return nil, &named
		}
		return nil, &sql.Error{Kind: sql.ExecError, Pos: s.Position(), Msg: strings.ReplaceAll(err.Error(), tmp, s.Path), Err: err}
	}
	rows.Message = strings.Replace(rows.Message, tmp, s.Path, 1)
	return rows, nil
}
