package sql

// Complete reports whether buf ends a statement: its last token (ignoring
// whitespace and comments) is a `;` outside any string, quoted identifier or
// comment. The REPL keeps reading lines until Complete is true, so
// `SELECT 1; SELECT 2` waits for the second statement's `;`. An unterminated
// string or comment is never complete.
func Complete(buf string) bool {
	lr, err := lex(buf)
	if err != nil || len(lr.tokens) == 0 {
		return false
	}
	return lr.tokens[len(lr.tokens)-1].isPunct(";")
}

// Keywords lists SQL keywords, sluice statements and function names, for
// tab completion in the REPL.
func Keywords() []string {
	return append([]string(nil), keywords...)
}

var keywords = []string{
	// statements and clauses
	"SELECT", "FROM", "WHERE", "GROUP", "BY", "HAVING", "ORDER", "LIMIT", "OFFSET",
	"AS", "ON", "USING", "JOIN", "INNER", "LEFT", "RIGHT", "FULL", "OUTER", "CROSS",
	"UNION", "ALL", "DISTINCT", "WITH", "ASC", "DESC", "AND", "OR", "NOT", "IN",
	"IS", "NULL", "LIKE", "BETWEEN", "CASE", "WHEN", "THEN", "ELSE", "END", "EXISTS",
	"TRUE", "FALSE", "INTERVAL", "OVER", "PARTITION", "ROWS", "RANGE", "PRECEDING",
	"FOLLOWING", "CURRENT", "ROW", "UNBOUNDED", "WINDOW",
	"CREATE", "SOURCE", "SINK", "IF", "WATERMARK", "FOR", "INSERT", "INTO", "DROP",
	"SHOW", "SOURCES", "SINKS", "OPTIONS", "DESCRIBE", "EXPLAIN", "ANALYZE", "SET",
	"EMIT", "EVERY", "CHANGES", "FINAL", "TABLE", "DESCRIPTOR",
	"MILLISECOND", "SECOND", "MINUTE", "HOUR", "DAY",
	// types
	"BIGINT", "INT", "INTEGER", "SMALLINT", "TINYINT", "DOUBLE", "FLOAT", "REAL",
	"DECIMAL", "NUMERIC", "VARCHAR", "CHAR", "TEXT", "STRING", "BOOLEAN", "BOOL",
	"TIMESTAMP", "DATETIME", "DATE",
	// window table functions
	"TUMBLE", "HOP", "SESSION",
	// functions
	"COUNT", "SUM", "AVG", "MIN", "MAX", "ROW_NUMBER", "RANK", "DENSE_RANK",
	"LAG", "LEAD", "FIRST_VALUE", "LAST_VALUE", "COALESCE", "IFNULL", "NULLIF",
	"CAST", "CONCAT", "LOWER", "UPPER", "LENGTH", "SUBSTRING", "TRIM", "ABS",
	"ROUND", "FLOOR", "CEIL", "NOW", "DATE_FORMAT", "EXTRACT",
	"WINDOW_START", "WINDOW_END",
}
