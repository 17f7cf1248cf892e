package sql

import (
	"strings"
	"time"
)

// windowKinds maps a window table function name to its kind.
var windowKinds = map[string]WindowKind{"TUMBLE": Tumble, "HOP": Hop, "SESSION": Session}

// windowArgs names the arguments of each window function, for messages.
var windowArgs = map[WindowKind]string{
	Tumble:  "TUMBLE(table, time_column, size)",
	Hop:     "HOP(table, time_column, slide, size)",
	Session: "SESSION(table [PARTITION BY k], time_column, gap)",
}

// matchParen returns the index of the `)` closing the `(` at open, or -1.
func matchParen(toks []token, open int) int {
	depth := 0
	for j := open; j < len(toks); j++ {
		switch {
		case toks[j].isPunct("("):
			depth++
		case toks[j].isPunct(")"):
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// windowTVF recognises a window table function call starting at body[i]
// (`TUMBLE(…)`, or Flink's `TABLE(TUMBLE(…))`) and returns it with the
// index of its last token. ok is false when body[i] starts no such call.
func (ps *parseState) windowTVF(body []token, i int) (w *WindowTVF, end int, ok bool, err error) {
	c := &cursor{ps: ps, toks: body}
	t := body[i]
	if t.is("TABLE") {
		if i+3 >= len(body) || !body[i+3].isPunct("(") {
			return nil, 0, false, nil
		}
		if _, known := windowKinds[strings.ToUpper(body[i+2].text)]; !known || body[i+2].kind != tkIdent {
			return nil, 0, false, nil
		}
		w, innerEnd, _, err := ps.windowTVF(body, i+2)
		if err != nil {
			return nil, 0, false, err
		}
		if innerEnd+1 >= len(body) || !body[innerEnd+1].isPunct(")") {
			c.i = innerEnd + 1
			return nil, 0, false, c.unexpected(`")" closing TABLE(`)
		}
		w.Pos = ps.pos(t.off)
		return w, innerEnd + 1, true, nil
	}
	kind, known := windowKinds[strings.ToUpper(t.text)]
	if !known {
		return nil, 0, false, nil
	}
	close := matchParen(body, i+1)
	if close < 0 {
		return nil, 0, false, c.errAt(body[i+1], "unclosed ( in %s", strings.ToUpper(t.text))
	}
	// Split the arguments at top-level commas.
	var args [][]token
	var seps []token // the token before each argument, for empty-argument errors
	startArg, depth := i+2, 0
	seps = append(seps, body[i+1])
	for j := i + 2; j < close; j++ {
		switch {
		case body[j].isPunct("("):
			depth++
		case body[j].isPunct(")"):
			depth--
		case body[j].isPunct(",") && depth == 0:
			args = append(args, body[startArg:j])
			seps = append(seps, body[j])
			startArg = j + 1
		}
	}
	if startArg < close || len(args) > 0 {
		args = append(args, body[startArg:close])
	}
	want := 3
	if kind == Hop {
		want = 4
	}
	if len(args) != want {
		return nil, 0, false, c.errAt(t, "%s takes %d arguments, got %d: %s", strings.ToUpper(t.text), want, len(args), windowArgs[kind])
	}
	for k, a := range args {
		if len(a) == 0 {
			return nil, 0, false, c.errAt(seps[k], "missing argument %d of %s", k+1, windowArgs[kind])
		}
	}
	w = &WindowTVF{Kind: kind, Pos: ps.pos(t.off)}
	tableArg := args[0]
	for k := range tableArg {
		if k > 0 && tableArg[k].is("PARTITION") {
			if kind != Session {
				return nil, 0, false, c.errAt(tableArg[k], "PARTITION BY is taken by SESSION only, not %s", strings.ToUpper(t.text))
			}
			if w.PartitionBy, err = ps.windowPartition(tableArg[k:]); err != nil {
				return nil, 0, false, err
			}
			w.PartitionPos = ps.pos(tableArg[k].off)
			tableArg = tableArg[:k]
			break
		}
	}
	if w.Table, err = ps.windowTable(tableArg); err != nil {
		return nil, 0, false, err
	}
	if w.TimeColumn, err = ps.windowColumn(args[1]); err != nil {
		return nil, 0, false, err
	}
	var ds []time.Duration
	for _, a := range args[2:] {
		ac := &cursor{ps: ps, toks: a}
		d, err := ac.interval()
		if err != nil {
			return nil, 0, false, err
		}
		if err := ac.end(); err != nil {
			return nil, 0, false, err
		}
		if d <= 0 {
			return nil, 0, false, ac.errAt(a[0], "%s interval must be positive", strings.ToUpper(t.text))
		}
		ds = append(ds, d)
	}
	switch kind {
	case Tumble:
		w.Size = ds[0]
	case Hop:
		w.Slide, w.Size = ds[0], ds[1]
	case Session:
		w.Gap = ds[0]
	}
	return w, close, true, nil
}

// windowTable reads the first argument: `src` or Flink's `TABLE src`.
func (ps *parseState) windowTable(a []token) (string, error) {
	c := &cursor{ps: ps, toks: a}
	if c.peek().isPunct("(") {
		return "", c.errAt(a[0], "window table functions over subqueries are not supported yet: use a source name")
	}
	if c.peek().is("TABLE") && len(a) > 1 {
		c.next()
	}
	name, _, err := c.ident("a source name")
	if err != nil {
		return "", err
	}
	return name, c.end()
}

// windowPartition reads Flink's `PARTITION BY k` or `PARTITION BY (k1,
// k2)` after a SESSION's table: the columns its sessions are kept apart by.
func (ps *parseState) windowPartition(a []token) ([]string, error) {
	c := &cursor{ps: ps, toks: a}
	c.next() // PARTITION
	if !c.peek().is("BY") {
		return nil, c.unexpected("BY after PARTITION")
	}
	c.next()
	paren := c.peek().isPunct("(")
	if paren {
		c.next()
	}
	var cols []string
	for {
		name, _, err := c.ident("a partition column")
		if err != nil {
			return nil, err
		}
		cols = append(cols, name)
		if !paren || !c.peek().isPunct(",") {
			break
		}
		c.next()
	}
	if paren {
		if err := c.expectPunct(")"); err != nil {
			return nil, err
		}
	}
	return cols, c.end()
}

// windowColumn reads the second argument: `ts` or Flink's `DESCRIPTOR(ts)`.
func (ps *parseState) windowColumn(a []token) (string, error) {
	c := &cursor{ps: ps, toks: a}
	if c.peek().is("DESCRIPTOR") && c.peekAt(1).isPunct("(") {
		c.next()
		c.next()
		name, _, err := c.ident("the time column")
		if err != nil {
			return "", err
		}
		if err := c.expectPunct(")"); err != nil {
			return "", err
		}
		return name, c.end()
	}
	name, _, err := c.ident("the time column")
	if err != nil {
		return "", err
	}
	return name, c.end()
}
