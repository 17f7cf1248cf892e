package pgwire

import (
	"hash/fnv"
	"regexp"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/sql"
)

// Postgres clients ask the server about itself in PostgreSQL's terms.
// Plain SQL over information_schema and pg_catalog runs as any query, on
// the catalog tables of systables.go. But psql's \d commands use syntax
// only PostgreSQL reads (OPERATOR(pg_catalog.~), ::regclass casts,
// pg_catalog functions, correlated subqueries), and BI tools call
// version() or current_database() and read SHOW server_version: such a
// query is recognised here and rewritten into a constant SELECT of the
// answer, taken from the same catalog tables' rows, which then runs like
// any query (simple or extended protocol alike).
//
// A rewritten query is answered by its select list: each item's output
// name (its alias, or the column or function it names) picks a value
// from the relation or column the row describes, and an item nothing
// answers is NULL, so the variants of the queries other psql versions
// send get answers too. A pg_catalog query about something sluice does
// not have (policies, publications, inheritance, …) has no rows.

// catalogNamespace is the one schema relations are listed in.
const catalogNamespace = "public"

// catalogRewrite returns the constant query answering text when text is a
// catalog or session query, else "" and false.
func (c *conn) catalogRewrite(text string) (string, bool) {
	q := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(text), ";"))
	if len(splitTop(q, ';')) > 1 {
		return "", false // several statements: none is a catalog query
	}
	if m := showRe.FindStringSubmatch(q); m != nil {
		if v, ok := c.setting(strings.ToLower(m[1])); ok {
			return constSelect([]string{strings.ToLower(m[1])}, [][]any{{v}}), true
		}
		return "", false
	}
	if !strings.Contains(strings.ToLower(q), "pg_catalog") && !mentionsCatalogTable(q) {
		return c.sessionFunctions(q)
	}
	if !postgresOnly(q) {
		// Plain SQL over the catalog tables runs as any query does.
		return "", false
	}
	items, ok := selectList(q)
	if !ok {
		return "", false
	}
	lower := strings.ToLower(q)
	var rows []map[string]any
	switch from := fromTables(lower); {
	case !knownTables(from):
		// Policies, publications, inheritance, constraints…: sluice has
		// none of them.
	case from["pg_attribute"]:
		rows = c.attributeRows(lower)
	case from["pg_class"]:
		rows = c.classRows(q, lower)
	case from["pg_namespace"]:
		for _, m := range sysTableNamed("pg_catalog.pg_namespace").maps(c.client(), nil) {
			if m["oid"] == int64(nsPublic) {
				m["name"], m["owner"] = m["nspname"], c.user
				rows = append(rows, m)
			}
		}
	case from["pg_database"]:
		for _, m := range sysTableNamed("pg_catalog.pg_database").maps(c.client(), nil) {
			m["name"], m["owner"], m["encoding"] = m["datname"], c.user, "UTF8"
			m["collate"], m["ctype"], m["locale provider"] = m["datcollate"], m["datctype"], "libc"
			rows = append(rows, m)
		}
	}
	names := make([]string, len(items))
	table := make([][]any, len(rows))
	for i, it := range items {
		names[i] = it
	}
	for r, row := range rows {
		table[r] = make([]any, len(items))
		for i, it := range items {
			table[r][i] = row[strings.ToLower(it)]
		}
	}
	return constSelect(names, table), true
}

var (
	showRe = regexp.MustCompile(`(?i)^show\s+([a-z_]+)$`)
	// catalogTableRe finds a catalog table named without its schema.
	catalogTableRe = regexp.MustCompile(`(?i)\bfrom\s+(pg_class|pg_namespace|pg_attribute|pg_type|pg_database|pg_settings|pg_proc)\b`)
	// relnameRe is the name filter psql writes for a pattern (\d name).
	relnameRe = regexp.MustCompile(`(?i)c\.relname\s+operator\(pg_catalog\.~\)\s+'((?:[^']|'')*)'`)
	// relkindRe is psql's list of the kinds of relation to list.
	relkindRe = regexp.MustCompile(`(?i)c\.relkind\s+in\s*\(([^)]*)\)`)
	// oidRe is a lookup of one relation by OID (c.oid = '16384').
	oidRe = regexp.MustCompile(`(?i)(?:c\.oid|a\.attrelid)\s*=\s*'?(\d+)'?`)
	// sessionFuncRe is one item of a SELECT of session functions.
	sessionFuncRe = regexp.MustCompile(`(?i)^(?:pg_catalog\.)?(version|current_database|current_schema|current_user|session_user|user|pg_backend_pid|current_catalog)(?:\s*\(\s*\))?(?:\s+as\s+("?)([a-z_][a-z0-9_]*)("?))?$`)
)

func mentionsCatalogTable(q string) bool { return catalogTableRe.MatchString(q) }

// pgOnlyRe is syntax only PostgreSQL reads: casts (x::regclass), the
// regular-expression operators, OPERATOR(…), COLLATE, or a function
// sluice does not have (qualified by pg_catalog, or one of the catalog
// functions psql calls unqualified).
var pgOnlyRe = regexp.MustCompile(`(?i)::|~|\boperator\s*\(|\bcollate\b|\bpg_catalog\.[a-z_]+\s*\(|\b(?:pg_get_userbyid|pg_table_is_visible|format_type|pg_encoding_to_char|array_to_string|obj_description|col_description|pg_get_expr|has_table_privilege|has_schema_privilege|array)\s*\(`)

// postgresOnly reports whether q (outside its string literals) uses
// syntax only PostgreSQL reads: such a catalog query (psql's \d) is
// answered here, any other runs over the catalog tables.
func postgresOnly(q string) bool {
	b := []byte(q)
	for i := 0; i < len(b); i++ {
		if b[i] == '\'' {
			end := skipQuoted(q, i, '\'')
			for k := i + 1; k < end && k < len(b); k++ {
				b[k] = ' '
			}
			i = end
		}
	}
	return pgOnlyRe.Match(b)
}

// fromTableRe is a catalog table in a FROM clause.
var fromTableRe = regexp.MustCompile(`(?:pg_catalog\.)?\b(pg_[a-z_]+)\b`)

// fromTables are the catalog tables of the (lower-case) query's top-level
// FROM clause, not those of subqueries in its select list.
func fromTables(lower string) map[string]bool {
	i := topLevelIndex(lower, "from")
	if i < 0 {
		return nil
	}
	from := lower[i:]
	for _, kw := range []string{"where", "order", "group", "limit", "union"} {
		if j := topLevelIndex(from, kw); j >= 0 {
			from = from[:j]
		}
	}
	out := map[string]bool{}
	for _, m := range fromTableRe.FindAllStringSubmatch(from, -1) {
		out[m[1]] = true
	}
	return out
}

// knownTables reports whether every table of from is one the catalog
// answers (pg_am joins are only for an access method's name).
func knownTables(from map[string]bool) bool {
	for t := range from {
		switch t {
		case "pg_class", "pg_namespace", "pg_attribute", "pg_am", "pg_database", "pg_type":
		default:
			return false
		}
	}
	return len(from) > 0
}

// setting is the value of a run-time parameter SHOW may ask for.
func (c *conn) setting(name string) (string, bool) {
	switch name {
	case "server_version":
		return strings.Fields(serverVersion)[0], true
	case "server_version_num":
		return "140000", true
	case "server_encoding", "client_encoding":
		return "UTF8", true
	case "datestyle":
		return "ISO, MDY", true
	case "intervalstyle":
		return "postgres", true
	case "timezone":
		return "UTC", true
	case "search_path":
		return catalogNamespace, true
	case "standard_conforming_strings", "integer_datetimes":
		return "on", true
	case "transaction_isolation", "default_transaction_isolation":
		return "read committed", true
	case "max_identifier_length":
		return "63", true
	case "application_name":
		return c.params["application_name"], true
	case "is_superuser":
		return "off", true
	}
	return "", false
}

func (c *conn) database() string {
	if d := c.params["database"]; d != "" {
		return d
	}
	return "sluice"
}

// versionText is what version() returns: PostgreSQL's form, so tools
// that parse it find a version they know.
func versionText() string {
	return "PostgreSQL " + strings.Fields(serverVersion)[0] + " (sluice streaming SQL), compiled by Go"
}

// sessionFunctions answers SELECT version(), current_database() and the
// like (a SELECT without FROM of those only).
func (c *conn) sessionFunctions(q string) (string, bool) {
	if len(q) < 7 || !strings.EqualFold(q[:7], "select ") {
		return "", false
	}
	parts := splitTop(q[7:], ',')
	var names []string
	var row []any
	for _, p := range parts {
		m := sessionFuncRe.FindStringSubmatch(strings.TrimSpace(p))
		if m == nil {
			return "", false
		}
		fn := strings.ToLower(m[1])
		name := fn
		if m[3] != "" {
			name = m[3]
		}
		var v any
		switch fn {
		case "version":
			v = versionText()
		case "current_database", "current_catalog":
			v = c.database()
		case "current_schema":
			v = catalogNamespace
		case "current_user", "session_user", "user":
			v = c.user
		case "pg_backend_pid":
			v = int64(c.pid)
		}
		names = append(names, name)
		row = append(row, v)
	}
	return constSelect(names, [][]any{row}), true
}

// relOID is a relation's OID: stable for its name, above PostgreSQL's
// reserved range.
func relOID(name string) int64 {
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(name)))
	return 16384 + int64(h.Sum32()%1_000_000_000)
}

// publicRels are the relations of the public schema, the ones psql's \d
// lists (pg_table_is_visible and its schema filters).
func (c *conn) publicRels() map[int64]rel {
	out := map[int64]rel{}
	for _, r := range rels(c.s.db.Relations()) {
		if r.ns == nsPublic {
			out[r.oid] = r
		}
	}
	return out
}

// classRows answers psql's pg_class queries from pg_class's rows: the
// relations its filters keep, with the names psql gives its output
// columns (name, schema, type, owner) beside pg_class's.
func (c *conn) classRows(q, lower string) []map[string]any {
	var nameRe *regexp.Regexp
	if m := relnameRe.FindStringSubmatch(q); m != nil {
		re, err := regexp.Compile(strings.ReplaceAll(m[1], "''", "'"))
		if err != nil {
			return nil
		}
		nameRe = re
	}
	// A kind filter: \dt lists tables ('r': sources and tables), \d also
	// views and foreign tables (sinks).
	var kinds string
	if m := relkindRe.FindStringSubmatch(lower); m != nil {
		kinds = m[1]
	}
	want := int64(-1)
	if m := oidRe.FindStringSubmatch(lower); m != nil {
		want, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if strings.Contains(lower, "nspname = 'pg_catalog'") || strings.Contains(lower, "nspname ~ '^pg_toast'") {
		return nil
	}
	public := c.publicRels()
	var rows []map[string]any
	for _, m := range sysTableNamed("pg_catalog.pg_class").maps(c.client(), rels(c.s.db.Relations())) {
		r, ok := public[m["oid"].(int64)]
		if !ok || (want >= 0 && r.oid != want) || (kinds != "" && !strings.Contains(kinds, "'"+m["relkind"].(string)+"'")) {
			continue
		}
		if nameRe != nil && !nameRe.MatchString(r.name) && !nameRe.MatchString(strings.ToLower(r.name)) {
			continue
		}
		m["name"], m["nspname"], m["schema"], m["type"], m["owner"] = r.name, catalogNamespace, catalogNamespace, r.Kind, c.user
		m["relhasoids"], m["persistence"] = false, "permanent"
		m["description"] = r.Kind
		if r.Connector != "" {
			m["description"] = r.Kind + " (connector " + r.Connector + ")"
		}
		rows = append(rows, m)
	}
	return rows
}

func numFields(s *arrow.Schema) int {
	if s == nil {
		return 0
	}
	return s.NumFields()
}

// attributeRows answers psql's pg_attribute query of one relation (by
// OID) from pg_attribute's rows, with format_type's name of each column.
func (c *conn) attributeRows(lower string) []map[string]any {
	m := oidRe.FindStringSubmatch(lower)
	if m == nil {
		return nil
	}
	want, _ := strconv.ParseInt(m[1], 10, 64)
	r, ok := c.publicRels()[want]
	if !ok {
		return nil
	}
	var rows []map[string]any
	for _, a := range sysTableNamed("pg_catalog.pg_attribute").maps(c.client(), []rel{r}) {
		a["format_type"] = pgTypeName(r.Schema.Field(int(a["attnum"].(int64)) - 1))
		a["attcollation"] = nil // psql's is the collation's name, when not the type's

		rows = append(rows, a)
	}
	return rows
}

// selectList is the output names of the first SELECT's items in q: an
// item's alias, else the column (a.attname → attname) or function
// (pg_catalog.format_type(…) → format_type) it is, else "?column?".
func selectList(q string) ([]string, bool) {
	lower := strings.ToLower(q)
	if !strings.HasPrefix(lower, "select") {
		return nil, false
	}
	body := q[len("select"):]
	end := topLevelIndex(body, "from")
	if end < 0 {
		end = len(body)
	}
	var out []string
	for _, it := range splitTop(body[:end], ',') {
		out = append(out, itemName(strings.TrimSpace(it)))
	}
	return out, len(out) > 0
}

var (
	aliasRe = regexp.MustCompile(`(?is)\s+as\s+("(?:[^"]|"")+"|[a-z_][a-z0-9_]*)$`)
	colRe   = regexp.MustCompile(`(?i)^(?:[a-z_][a-z0-9_]*\.)*([a-z_][a-z0-9_]*)$`)
	funcRe  = regexp.MustCompile(`(?i)^(?:[a-z_][a-z0-9_]*\.)?([a-z_][a-z0-9_]*)\s*\(`)
)

func itemName(it string) string {
	if m := aliasRe.FindStringSubmatch(it); m != nil {
		return strings.ReplaceAll(strings.Trim(m[1], `"`), `""`, `"`)
	}
	if m := colRe.FindStringSubmatch(it); m != nil {
		return m[1]
	}
	if m := funcRe.FindStringSubmatch(it); m != nil && !strings.EqualFold(m[1], "case") {
		return m[1]
	}
	return "?column?"
}

// splitTop splits s at sep outside parentheses and quotes.
func splitTop(s string, sep byte) []string {
	var out []string
	depth, last := 0, 0
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '\'' || ch == '"':
			i = skipQuoted(s, i, ch)
		case ch == '(':
			depth++
		case ch == ')':
			depth--
		case ch == sep && depth == 0:
			out = append(out, s[last:i])
			last = i + 1
		}
	}
	return append(out, s[last:])
}

// topLevelIndex is the index of the keyword kw (a whole word) in s
// outside parentheses and quotes, -1 if none.
func topLevelIndex(s, kw string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '\'' || ch == '"':
			i = skipQuoted(s, i, ch)
		case ch == '(':
			depth++
		case ch == ')':
			depth--
		case depth == 0 && i+len(kw) <= len(s) && strings.EqualFold(s[i:i+len(kw)], kw) &&
			(i == 0 || !isWordByte(s[i-1])) && (i+len(kw) == len(s) || !isWordByte(s[i+len(kw)])):
			return i
		}
	}
	return -1
}

func isWordByte(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// constSelect is a sluice query returning rows under names: strings,
// int64s, bools or nil (NULL) per cell. A column whose cells are all NULL
// is text; no rows is a LIMIT 0 of NULLs.
func constSelect(names []string, rows [][]any) string {
	quote := func(n string) string { return `"` + strings.ReplaceAll(n, `"`, `""`) + `"` }
	// A column's type: the first non-NULL cell's, so NULLs are cast to it.
	types := make([]string, len(names))
	for i := range names {
		types[i] = "VARCHAR"
	cells:
		for _, r := range rows {
			switch r[i].(type) {
			case int64:
				types[i] = "BIGINT"
			case bool:
				types[i] = "BOOLEAN"
			case nil:
				continue
			}
			break cells
		}
	}
	cell := func(v any, typ string) string {
		switch v := v.(type) {
		case string:
			return literal([]byte(v))
		case int64:
			return strconv.FormatInt(v, 10)
		case bool:
			return strconv.FormatBool(v)
		}
		return "CAST(NULL AS " + typ + ")"
	}
	row := func(r []any) string {
		var b strings.Builder
		b.WriteString("SELECT ")
		for i, n := range names {
			if i > 0 {
				b.WriteString(", ")
			}
			var v any
			if r != nil {
				v = r[i]
			}
			b.WriteString(cell(v, types[i]) + " AS " + quote(n))
		}
		return b.String()
	}
	if len(rows) == 0 {
		return row(nil) + " LIMIT 0"
	}
	parts := make([]string, len(rows))
	for i, r := range rows {
		parts[i] = row(r)
	}
	return strings.Join(parts, " UNION ALL ")
}

// parseSQL parses text, or the constant query answering it when it is a
// catalog or session query.
func (c *conn) parseSQL(text string) ([]sql.Statement, error) {
	if q, ok := c.catalogRewrite(text); ok {
		text = q
	}
	return sql.Parse(text)
}

// storageOf is attstorage as PostgreSQL sets it: plain for fixed-size
// types, extended for variable-length ones.
func storageOf(size int64) string {
	if size > 0 {
		return "p"
	}
	return "x"
}
