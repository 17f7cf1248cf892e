package sluice

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

func init() {
	sql.Register("sluice", Driver{})
}

// Driver is the database/sql driver, registered as "sluice", for tools
// that speak database/sql. sql.Open("sluice", dir) gives a fresh DB whose
// relative file paths resolve against dir ("" for the working directory);
// every connection of that sql.DB shares it, so a CREATE SOURCE on one is
// seen by all. Queries take no placeholder arguments, and transactions
// are not supported. Values come back as int64, float64, bool, string,
// time.Time (TIMESTAMP and DATE, in UTC) or nil; DECIMAL as its text.
type Driver struct{}

// Open implements driver.Driver with a DB of its own per connection;
// database/sql uses OpenConnector instead.
func (d Driver) Open(name string) (driver.Conn, error) {
	c, err := d.OpenConnector(name)
	if err != nil {
		return nil, err
	}
	return c.Connect(context.Background())
}

// OpenConnector implements driver.DriverContext: one DB per sql.Open.
func (Driver) OpenConnector(name string) (driver.Connector, error) {
	db, err := Open(Config{BaseDir: name})
	if err != nil {
		return nil, err
	}
	return &connector{db: db}, nil
}

// NewConnector exposes an existing DB to database/sql, sharing its
// sources and sinks (including ones registered from Go):
//
//	sqldb := sql.OpenDB(sluice.NewConnector(db))
func NewConnector(db *DB) driver.Connector { return &connector{db: db} }

type connector struct{ db *DB }

func (c *connector) Connect(context.Context) (driver.Conn, error) { return &conn{db: c.db}, nil }
func (c *connector) Driver() driver.Driver                        { return Driver{} }

// conn is a database/sql connection: a handle on the shared DB.
type conn struct{ db *DB }

var (
	_ driver.ExecerContext  = (*conn)(nil)
	_ driver.QueryerContext = (*conn)(nil)
)

func (c *conn) Prepare(query string) (driver.Stmt, error) { return &stmt{c: c, query: query}, nil }
func (c *conn) Close() error                              { return nil }
func (c *conn) Begin() (driver.Tx, error) {
	return nil, errors.New("sluice: transactions are not supported")
}

func noArgs(args []driver.NamedValue) error {
	if len(args) > 0 {
		return errors.New("sluice: query arguments are not supported; use literals")
	}
	return nil
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if err := noArgs(args); err != nil {
		return nil, err
	}
	if err := c.db.Exec(ctx, query); err != nil {
		return nil, err
	}
	return driver.ResultNoRows, nil
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if err := noArgs(args); err != nil {
		return nil, err
	}
	r, err := c.db.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	return &driverRows{r: r}, nil
}

// stmt is a prepared statement: only the text, planned when run.
type stmt struct {
	c     *conn
	query string
}

func (s *stmt) Close() error  { return nil }
func (s *stmt) NumInput() int { return 0 }
func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	if len(args) > 0 {
		return nil, noArgs([]driver.NamedValue{{}})
	}
	return s.c.ExecContext(context.Background(), s.query, nil)
}
func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	if len(args) > 0 {
		return nil, noArgs([]driver.NamedValue{{}})
	}
	return s.c.QueryContext(context.Background(), s.query, nil)
}

// driverRows walks the records of a Rows row by row.
type driverRows struct {
	r   *Rows
	rec arrow.Record
	i   int
}

func (d *driverRows) Columns() []string {
	s := d.r.Schema()
	if s == nil {
		return nil
	}
	names := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		names[i] = f.Name
	}
	return names
}

func (d *driverRows) Close() error { return d.r.Close() }

func (d *driverRows) Next(dest []driver.Value) error {
	for d.rec == nil || d.i >= int(d.rec.NumRows()) {
		if !d.r.Next() {
			if err := d.r.Err(); err != nil {
				return err
			}
			return io.EOF
		}
		d.rec, d.i = d.r.Record(), 0
	}
	for c, col := range d.rec.Columns() {
		if c >= len(dest) {
			break
		}
		v, err := driverValue(col, d.i)
		if err != nil {
			return fmt.Errorf("sluice: column %s: %w", d.rec.ColumnName(c), err)
		}
		dest[c] = v
	}
	d.i++
	return nil
}

// driverValue converts one Arrow value to a database/sql value.
func driverValue(a arrow.Array, i int) (driver.Value, error) {
	if a.IsNull(i) {
		return nil, nil
	}
	switch a := a.(type) {
	case *array.Int64:
		return a.Value(i), nil
	case *array.Int32:
		return int64(a.Value(i)), nil
	case *array.Int16:
		return int64(a.Value(i)), nil
	case *array.Int8:
		return int64(a.Value(i)), nil
	case *array.Float64:
		return a.Value(i), nil
	case *array.Float32:
		return float64(a.Value(i)), nil
	case *array.Boolean:
		return a.Value(i), nil
	case *array.String:
		return a.Value(i), nil
	case *array.LargeString:
		return a.Value(i), nil
	case *array.Binary:
		return append([]byte(nil), a.Value(i)...), nil
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return a.Value(i).ToTime(unit).UTC(), nil
	case *array.Date32:
		return a.Value(i).ToTime().UTC(), nil
	case *array.Decimal128:
		return a.ValueStr(i), nil
	}
	return a.ValueStr(i), nil
}
