package pgwire

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluicesql/sluice/engine"
)

// The catalog tables a Postgres client or BI tool queries: the standard
// information_schema and PostgreSQL's pg_catalog, as engine system
// tables over the shared catalog. Their rows are built when a query
// reads them, so a query sees the relations as they are, and any query
// sluice can run works on them (filters, joins, ORDER BY). psql's own \d
// queries use PostgreSQL-only syntax; catalog.go answers those from the
// same rows.

// Namespace OIDs, as PostgreSQL numbers pg_catalog and public.
const (
	nsCatalog = 11
	nsPublic  = 2200
	nsInfo    = 13000
	ownerOID  = 10
	dbOID     = 16385
)

// pgTypeInfo is one row of pg_type.
type pgTypeInfo struct {
	oid      uint32
	name     string // typname
	sql      string // format_type's name, information_schema's data_type
	len      int64  // typlen: -1 for variable length
	category string
}

// pgTypes are the types sluice's values travel as, and the common ones
// clients look up by name.
var pgTypes = []pgTypeInfo{
	{pgtype.BoolOID, "bool", "boolean", 1, "B"},
	{pgtype.ByteaOID, "bytea", "bytea", -1, "U"},
	{pgtype.QCharOID, "char", `"char"`, 1, "S"},
	{pgtype.NameOID, "name", "name", 64, "S"},
	{pgtype.Int8OID, "int8", "bigint", 8, "N"},
	{pgtype.Int2OID, "int2", "smallint", 2, "N"},
	{pgtype.Int4OID, "int4", "integer", 4, "N"},
	{pgtype.TextOID, "text", "text", -1, "S"},
	{pgtype.OIDOID, "oid", "oid", 4, "N"},
	{pgtype.JSONOID, "json", "json", -1, "U"},
	{pgtype.Float4OID, "float4", "real", 4, "N"},
	{pgtype.Float8OID, "float8", "double precision", 8, "N"},
	{pgtype.VarcharOID, "varchar", "character varying", -1, "S"},
	{pgtype.DateOID, "date", "date", 4, "D"},
	{pgtype.TimeOID, "time", "time without time zone", 8, "D"},
	{pgtype.TimestampOID, "timestamp", "timestamp without time zone", 8, "D"},
	{pgtype.TimestamptzOID, "timestamptz", "timestamp with time zone", 8, "D"},
	{pgtype.IntervalOID, "interval", "interval", 16, "T"},
	{pgtype.NumericOID, "numeric", "numeric", -1, "N"},
	{pgtype.UUIDOID, "uuid", "uuid", 16, "U"},
	{pgtype.JSONBOID, "jsonb", "jsonb", -1, "U"},
}

// typeOf is the pg_type row of a column's wire type.
func typeOf(f arrow.Field) pgTypeInfo {
	oid := columnFor(f).oid
	for _, t := range pgTypes {
		if t.oid == oid {
			return t
		}
	}
	return pgTypes[7] // text
}

// pgTypeName is format_type's name of a column: its wire type's, with a
// decimal's precision and scale.
func pgTypeName(f arrow.Field) string {
	if d, ok := f.Type.(*arrow.Decimal128Type); ok {
		return fmt.Sprintf("numeric(%d,%d)", d.Precision, d.Scale)
	}
	return typeOf(f).sql
}

// rel is a relation as the catalog tables show it.
// columnRows is one row per column of every relation that has a schema
// (information_schema.columns, pg_attribute), row making it from the
// relation, the column's 0-based position, the column and its type.
func columnRows(rs []rel, row func(r rel, i int, f arrow.Field, t pgTypeInfo) []any) [][]any {
	var out [][]any
	for _, r := range rs {
		if r.Schema == nil {
			continue
		}
		for i, f := range r.Schema.Fields() {
			out = append(out, row(r, i, f, typeOf(f)))
		}
	}
	return out
}

type rel struct {
	engine.Relation
	oid    int64
	name   string // unqualified
	schema string
	ns     int64
}

// rels places the engine's relations in their schemas.
func rels(in []engine.Relation) []rel {
	out := make([]rel, 0, len(in))
	for _, r := range in {
		x := rel{Relation: r, oid: relOID(r.Name), name: r.Name, schema: catalogNamespace, ns: nsPublic}
		if r.Kind == "system" {
			schema, name, _ := strings.Cut(r.Name, ".")
			x.name, x.schema, x.ns = name, schema, nsCatalog
			if schema == "information_schema" {
				x.ns = nsInfo
			}
		}
		out = append(out, x)
	}
	return out
}

// relkind is pg_class.relkind: sources and tables are tables, views are
// views, and a sink, whose rows live in the system it writes to, is a
// foreign table.
func (r rel) relkind() string {
	switch r.Kind {
	case "view":
		return "v"
	case "sink":
		return "f"
	case "system":
		if r.schema == "information_schema" {
			return "v"
		}
	}
	return "r"
}

// tableType is information_schema.tables.table_type for the relkind.
func (r rel) tableType() string {
	switch r.relkind() {
	case "v":
		return "VIEW"
	case "f":
		return "FOREIGN"
	}
	return "BASE TABLE"
}

// client is what the catalog tables know of the connection asking.
type client struct {
	user, database string
	setting        func(string) (string, bool)
}

type clientKey struct{}

func (c *conn) client() client {
	return client{user: c.user, database: c.database(), setting: c.setting}
}

// clientOf is the connection a query runs for (put in its context by
// conn.begin).
func clientOf(ctx context.Context) client {
	if c, ok := ctx.Value(clientKey{}).(*conn); ok {
		return c.client()
	}
	return client{user: "sluice", database: "sluice", setting: func(string) (string, bool) { return "", false }}
}

// settingNames are the run-time parameters pg_settings lists.
var settingNames = []string{"application_name", "client_encoding", "datestyle", "default_transaction_isolation",
	"integer_datetimes", "intervalstyle", "is_superuser", "max_identifier_length", "search_path", "server_encoding",
	"server_version", "server_version_num", "standard_conforming_strings", "timezone", "transaction_isolation"}

// column kinds of the catalog tables' schemas.
var (
	tText  = arrow.BinaryTypes.String
	tInt   = arrow.PrimitiveTypes.Int64
	tInt4  = arrow.PrimitiveTypes.Int32
	tInt2  = arrow.PrimitiveTypes.Int16
	tBool  = arrow.FixedWidthTypes.Boolean
	tFloat = arrow.PrimitiveTypes.Float64
)

// sysCol is one column of a catalog table.
type sysCol struct {
	name string
	typ  arrow.DataType
}

// sysTable is one catalog table: its columns and its rows as a function
// of the connection and the relations.
type sysTable struct {
	name string
	cols []sysCol
	rows func(cl client, rs []rel) [][]any
}

func (t sysTable) schema() *arrow.Schema {
	fs := make([]arrow.Field, len(t.cols))
	for i, c := range t.cols {
		fs[i] = arrow.Field{Name: c.name, Type: c.typ, Nullable: true}
	}
	return arrow.NewSchema(fs, nil)
}

// maps are t's rows keyed by column name, for catalog.go's answers.
func (t sysTable) maps(cl client, rs []rel) []map[string]any {
	var out []map[string]any
	for _, row := range t.rows(cl, rs) {
		m := make(map[string]any, len(row))
		for i, c := range t.cols {
			m[c.name] = row[i]
		}
		out = append(out, m)
	}
	return out
}

func cols(spec ...any) []sysCol {
	out := make([]sysCol, 0, len(spec)/2)
	for i := 0; i+1 < len(spec); i += 2 {
		out = append(out, sysCol{spec[i].(string), spec[i+1].(arrow.DataType)})
	}
	return out
}

var schemata = []struct {
	oid  int64
	name string
}{{nsInfo, "information_schema"}, {nsCatalog, "pg_catalog"}, {nsPublic, catalogNamespace}}

// sysTables are the catalog tables, by the names queries use.
var sysTables = []sysTable{
	{name: "information_schema.schemata",
		cols: cols("catalog_name", tText, "schema_name", tText, "schema_owner", tText, "default_character_set_catalog", tText,
			"default_character_set_schema", tText, "default_character_set_name", tText, "sql_path", tText),
		rows: func(cl client, _ []rel) [][]any {
			var out [][]any
			for _, s := range schemata {
				out = append(out, []any{cl.database, s.name, cl.user, nil, nil, nil, nil})
			}
			return out
		}},
	{name: "information_schema.tables",
		cols: cols("table_catalog", tText, "table_schema", tText, "table_name", tText, "table_type", tText,
			"self_referencing_column_name", tText, "reference_generation", tText, "user_defined_type_catalog", tText,
			"user_defined_type_schema", tText, "user_defined_type_name", tText, "is_insertable_into", tText,
			"is_typed", tText, "commit_action", tText),
		rows: func(cl client, rs []rel) [][]any {
			var out [][]any
			for _, r := range rs {
				ins := "NO"
				if r.Kind == "table" || r.Kind == "sink" {
					ins = "YES"
				}
				out = append(out, []any{cl.database, r.schema, r.name, r.tableType(), nil, nil, nil, nil, nil, ins, "NO", nil})
			}
			return out
		}},
	{name: "information_schema.columns",
		cols: cols("table_catalog", tText, "table_schema", tText, "table_name", tText, "column_name", tText,
			"ordinal_position", tInt, "column_default", tText, "is_nullable", tText, "data_type", tText,
			"character_maximum_length", tInt, "character_octet_length", tInt, "numeric_precision", tInt,
			"numeric_precision_radix", tInt, "numeric_scale", tInt, "datetime_precision", tInt,
			"udt_catalog", tText, "udt_schema", tText, "udt_name", tText, "is_identity", tText,
			"is_generated", tText, "is_updatable", tText),
		rows: func(cl client, rs []rel) [][]any {
			return columnRows(rs, func(r rel, i int, f arrow.Field, t pgTypeInfo) []any {
				prec, radix, scale, dt := numericOf(f)
				null := "YES"
				if !f.Nullable {
					null = "NO"
				}
				return []any{cl.database, r.schema, r.name, f.Name, int64(i + 1), nil, null, t.sql,
					nil, nil, prec, radix, scale, dt, cl.database, "pg_catalog", t.name, "NO", "NEVER", "NO"}
			})
		}},
	{name: "information_schema.views",
		cols: cols("table_catalog", tText, "table_schema", tText, "table_name", tText, "view_definition", tText,
			"check_option", tText, "is_updatable", tText, "is_insertable_into", tText, "is_trigger_updatable", tText,
			"is_trigger_deletable", tText, "is_trigger_insertable_into", tText),
		rows: func(cl client, rs []rel) [][]any {
			var out [][]any
			for _, r := range rs {
				if r.Kind == "view" {
					out = append(out, []any{cl.database, r.schema, r.name, r.Definition, "NONE", "NO", "NO", "NO", "NO", "NO"})
				}
			}
			return out
		}},
	{name: "pg_catalog.pg_namespace",
		cols: cols("oid", tInt, "nspname", tText, "nspowner", tInt),
		rows: func(cl client, _ []rel) [][]any {
			var out [][]any
			for _, s := range schemata {
				out = append(out, []any{s.oid, s.name, int64(ownerOID)})
			}
			return out
		}},
	{name: "pg_catalog.pg_class",
		cols: cols("oid", tInt, "relname", tText, "relnamespace", tInt, "reltype", tInt, "reloftype", tInt,
			"relowner", tInt, "relam", tInt, "relfilenode", tInt, "reltablespace", tInt, "relpages", tInt4,
			"reltuples", tFloat, "reltoastrelid", tInt, "relhasindex", tBool, "relisshared", tBool,
			"relpersistence", tText, "relkind", tText, "relnatts", tInt2, "relchecks", tInt2, "relhasrules", tBool,
			"relhastriggers", tBool, "relhassubclass", tBool, "relrowsecurity", tBool, "relforcerowsecurity", tBool,
			"relispopulated", tBool, "relreplident", tText, "relispartition", tBool),
		rows: func(cl client, rs []rel) [][]any {
			var out [][]any
			for _, r := range rs {
				out = append(out, []any{r.oid, r.name, r.ns, int64(0), int64(0), int64(ownerOID), int64(0), int64(0), int64(0),
					int64(0), float64(-1), int64(0), false, false, "p", r.relkind(), int64(numFields(r.Schema)), int64(0),
					false, false, false, false, false, true, "d", false})
			}
			return out
		}},
	{name: "pg_catalog.pg_attribute",
		cols: cols("attrelid", tInt, "attname", tText, "atttypid", tInt, "attlen", tInt2, "attnum", tInt2,
			"atttypmod", tInt4, "attndims", tInt2, "attnotnull", tBool, "atthasdef", tBool, "atthasmissing", tBool,
			"attidentity", tText, "attgenerated", tText, "attisdropped", tBool, "attislocal", tBool,
			"attinhcount", tInt2, "attcollation", tInt, "attstorage", tText),
		rows: func(cl client, rs []rel) [][]any {
			return columnRows(rs, func(r rel, i int, f arrow.Field, t pgTypeInfo) []any {
				return []any{r.oid, f.Name, int64(t.oid), t.len, int64(i + 1), int64(-1), int64(0), !f.Nullable,
					false, false, "", "", false, true, int64(0), int64(0), storageOf(t.len)}
			})
		}},
	{name: "pg_catalog.pg_type",
		cols: cols("oid", tInt, "typname", tText, "typnamespace", tInt, "typowner", tInt, "typlen", tInt2,
			"typbyval", tBool, "typtype", tText, "typcategory", tText, "typisdefined", tBool, "typdelim", tText,
			"typrelid", tInt, "typelem", tInt, "typarray", tInt, "typbasetype", tInt, "typtypmod", tInt4,
			"typnotnull", tBool, "typndims", tInt4),
		rows: func(cl client, _ []rel) [][]any {
			var out [][]any
			for _, t := range pgTypes {
				out = append(out, []any{int64(t.oid), t.name, int64(nsCatalog), int64(ownerOID), t.len, t.len > 0 && t.len <= 8,
					"b", t.category, true, ",", int64(0), int64(0), int64(0), int64(0), int64(-1), false, int64(0)})
			}
			return out
		}},
	{name: "pg_catalog.pg_database",
		cols: cols("oid", tInt, "datname", tText, "datdba", tInt, "encoding", tInt4, "datcollate", tText,
			"datctype", tText, "datistemplate", tBool, "datallowconn", tBool, "datconnlimit", tInt4),
		rows: func(cl client, _ []rel) [][]any {
			return [][]any{{int64(dbOID), cl.database, int64(ownerOID), int64(6), "C", "C", false, true, int64(-1)}}
		}},
	{name: "pg_catalog.pg_settings",
		cols: cols("name", tText, "setting", tText, "unit", tText, "category", tText, "short_desc", tText,
			"context", tText, "vartype", tText, "source", tText),
		rows: func(cl client, _ []rel) [][]any {
			var out [][]any
			for _, n := range settingNames {
				if v, ok := cl.setting(n); ok {
					out = append(out, []any{n, v, nil, "Client Connection Defaults", nil, "user", "string", "default"})
				}
			}
			return out
		}},
	{name: "pg_catalog.pg_tables",
		cols: cols("schemaname", tText, "tablename", tText, "tableowner", tText, "tablespace", tText,
			"hasindexes", tBool, "hasrules", tBool, "hastriggers", tBool, "rowsecurity", tBool),
		rows: func(cl client, rs []rel) [][]any {
			var out [][]any
			for _, r := range rs {
				if r.relkind() == "r" {
					out = append(out, []any{r.schema, r.name, cl.user, nil, false, false, false, false})
				}
			}
			return out
		}},
	{name: "pg_catalog.pg_views",
		cols: cols("schemaname", tText, "viewname", tText, "viewowner", tText, "definition", tText),
		rows: func(cl client, rs []rel) [][]any {
			var out [][]any
			for _, r := range rs {
				if r.Kind == "view" {
					out = append(out, []any{r.schema, r.name, cl.user, r.Definition})
				}
			}
			return out
		}},
}

// numericOf is information_schema's numeric_precision, its radix,
// numeric_scale and datetime_precision of a column (nil where they do
// not apply).
func numericOf(f arrow.Field) (prec, radix, scale, dt any) {
	switch t := f.Type.(type) {
	case *arrow.Decimal128Type:
		return int64(t.Precision), int64(10), int64(t.Scale), nil
	case *arrow.TimestampType:
		return nil, nil, nil, int64(6)
	case *arrow.Date32Type:
		return nil, nil, nil, int64(0)
	}
	switch typeOf(f).oid {
	case pgtype.Int8OID:
		return int64(64), int64(2), int64(0), nil
	case pgtype.Int4OID:
		return int64(32), int64(2), int64(0), nil
	case pgtype.Int2OID:
		return int64(16), int64(2), int64(0), nil
	case pgtype.Float8OID:
		return int64(53), int64(2), nil, nil
	case pgtype.Float4OID:
		return int64(24), int64(2), nil, nil
	}
	return nil, nil, nil, nil
}

// sysTableNamed finds a catalog table by its qualified name.
func sysTableNamed(name string) sysTable {
	for _, t := range sysTables {
		if t.name == name {
			return t
		}
	}
	panic("pgwire: no catalog table " + name) // a broken internal invariant
}

// registerCatalog adds the catalog tables to db (once per session: a
// second server over the same session finds them there).
func registerCatalog(db *engine.Session) error {
	for _, t := range sysTables {
		t := t
		err := db.RegisterSystemTable(engine.SystemTable{
			Name:   t.name,
			Schema: t.schema(),
			Rows: func(ctx context.Context, in []engine.Relation) ([][]any, error) {
				return t.rows(clientOf(ctx), rels(in)), nil
			},
		})
		if err != nil && !errors.Is(err, engine.ErrSystemTableExists) {
			return err
		}
	}
	return nil
}
