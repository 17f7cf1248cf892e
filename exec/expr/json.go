package expr

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
)

// JSON functions read JSON text held in VARCHAR columns, MySQL's way:
// JSON_EXTRACT (and ->) returns JSON text, so a string keeps its quotes,
// JSON_UNQUOTE (and ->>) the plain value. Paths are MySQL's: $, .key,
// ."quoted key", [n], [*] and .*; a path with a wildcard, or several
// paths, collect their matches into an array. A path that matches nothing
// gives NULL; text that is not JSON is an error naming the call.

// jsonNode is a parsed JSON value that keeps object members in their
// order (encoding/json's maps would not).
type jsonNode struct {
	kind byte   // 'o' object, 'a' array, 's' string, 'n' number, 't' true, 'f' false, 'z' null
	raw  string // the token text for scalars (a string with its quotes)
	keys []string
	vals []*jsonNode
}

type jsonParser struct {
	s     string
	i     int
	depth int
}

// maxJSONDepth bounds nesting so hostile input cannot exhaust the stack.
const maxJSONDepth = 512

func parseJSON(s string) (*jsonNode, error) {
	p := &jsonParser{s: s}
	n, err := p.value()
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("unexpected %q at character %d", p.s[p.i], p.i+1)
	}
	return n, nil
}

func (p *jsonParser) ws() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *jsonParser) value() (*jsonNode, error) {
	p.ws()
	if p.i >= len(p.s) {
		return nil, fmt.Errorf("unexpected end of text")
	}
	switch c := p.s[p.i]; {
	case c == '{' || c == '[':
		if p.depth++; p.depth > maxJSONDepth {
			return nil, fmt.Errorf("nested more than %d levels", maxJSONDepth)
		}
		defer func() { p.depth-- }()
		p.i++
		n := &jsonNode{kind: 'a'}
		closing := byte(']')
		if c == '{' {
			n.kind, closing = 'o', '}'
		}
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == closing {
			p.i++
			return n, nil
		}
		for {
			if n.kind == 'o' {
				p.ws()
				if p.i >= len(p.s) || p.s[p.i] != '"' {
					return nil, fmt.Errorf("expected an object key at character %d", p.i+1)
				}
				k, err := p.str()
				if err != nil {
					return nil, err
				}
				var key string
				if err := json.Unmarshal([]byte(k), &key); err != nil {
					return nil, fmt.Errorf("bad object key %s", k)
				}
				p.ws()
				if p.i >= len(p.s) || p.s[p.i] != ':' {
					return nil, fmt.Errorf("expected ':' at character %d", p.i+1)
				}
				p.i++
				n.keys = append(n.keys, key)
			}
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			n.vals = append(n.vals, v)
			p.ws()
			if p.i < len(p.s) && p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.i < len(p.s) && p.s[p.i] == closing {
				p.i++
				return n, nil
			}
			return nil, fmt.Errorf("expected ',' or '%c' at character %d", closing, p.i+1)
		}
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return &jsonNode{kind: 's', raw: s}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		j := p.i
		for j < len(p.s) && strings.IndexByte("+-0123456789.eE", p.s[j]) >= 0 {
			j++
		}
		tok := p.s[p.i:j]
		if !json.Valid([]byte(tok)) {
			return nil, fmt.Errorf("bad number %q", tok)
		}
		p.i = j
		return &jsonNode{kind: 'n', raw: tok}, nil
	default:
		for _, w := range []struct {
			word string
			kind byte
		}{{"true", 't'}, {"false", 'f'}, {"null", 'z'}} {
			if strings.HasPrefix(p.s[p.i:], w.word) {
				p.i += len(w.word)
				return &jsonNode{kind: w.kind, raw: w.word}, nil
			}
		}
		return nil, fmt.Errorf("unexpected %q at character %d", c, p.i+1)
	}
}

// str reads a string token, returning it with its quotes.
func (p *jsonParser) str() (string, error) {
	start := p.i
	p.i++
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case '\\':
			p.i += 2
			continue
		case '"':
			p.i++
			tok := p.s[start:p.i]
			if !json.Valid([]byte(tok)) {
				return "", fmt.Errorf("bad string %s", tok)
			}
			return tok, nil
		}
		p.i++
	}
	return "", fmt.Errorf("unterminated string at character %d", start+1)
}

// format writes n as MySQL prints JSON: `{"a": 1, "b": [1, 2]}`.
func (n *jsonNode) format(b *strings.Builder) {
	switch n.kind {
	case 'o':
		b.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				b.WriteString(", ")
			}
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteString(": ")
			n.vals[i].format(b)
		}
		b.WriteByte('}')
	case 'a':
		b.WriteByte('[')
		for i, v := range n.vals {
			if i > 0 {
				b.WriteString(", ")
			}
			v.format(b)
		}
		b.WriteByte(']')
	default:
		b.WriteString(n.raw)
	}
}

func (n *jsonNode) text() string {
	var b strings.Builder
	n.format(&b)
	return b.String()
}

// unquoted is the value as JSON_UNQUOTE gives it: a string without its
// quotes and escapes, anything else as JSON text.
func (n *jsonNode) unquoted() string {
	if n.kind == 's' {
		var s string
		_ = json.Unmarshal([]byte(n.raw), &s) // validated when parsed
		return s
	}
	return n.text()
}

// jsonStep is one step of a path: a member (key, or any with wild), or an
// array element (index, or any with wild).
type jsonStep struct {
	member bool
	key    string
	index  int
	wild   bool
}

type jsonPath struct {
	steps []jsonStep
	wild  bool
}

// parseJSONPath reads a MySQL path: $ followed by .key, ."key", .*, [n], [*].
func parseJSONPath(s string) (*jsonPath, error) {
	p := strings.TrimSpace(s)
	if !strings.HasPrefix(p, "$") {
		return nil, fmt.Errorf("invalid JSON path %q: it must start with $", s)
	}
	jp := &jsonPath{}
	i := 1
	for i < len(p) {
		switch p[i] {
		case '.':
			i++
			if i < len(p) && p[i] == '*' {
				jp.steps = append(jp.steps, jsonStep{member: true, wild: true})
				jp.wild = true
				i++
				continue
			}
			if i < len(p) && p[i] == '"' {
				j := i + 1
				for j < len(p) && p[j] != '"' {
					if p[j] == '\\' {
						j++
					}
					j++
				}
				if j >= len(p) {
					return nil, fmt.Errorf("invalid JSON path %q: unterminated quoted key", s)
				}
				var key string
				if err := json.Unmarshal([]byte(p[i:j+1]), &key); err != nil {
					return nil, fmt.Errorf("invalid JSON path %q: bad quoted key", s)
				}
				jp.steps = append(jp.steps, jsonStep{member: true, key: key})
				i = j + 1
				continue
			}
			j := i
			for j < len(p) && p[j] != '.' && p[j] != '[' {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("invalid JSON path %q: empty key at character %d", s, i+1)
			}
			jp.steps = append(jp.steps, jsonStep{member: true, key: strings.TrimSpace(p[i:j])})
			i = j
		case '[':
			j := strings.IndexByte(p[i:], ']')
			if j < 0 {
				return nil, fmt.Errorf("invalid JSON path %q: missing ]", s)
			}
			in := strings.TrimSpace(p[i+1 : i+j])
			if in == "*" {
				jp.steps = append(jp.steps, jsonStep{wild: true})
				jp.wild = true
			} else {
				n, err := strconv.Atoi(in)
				if err != nil || n < 0 {
					return nil, fmt.Errorf("invalid JSON path %q: bad array index %q", s, in)
				}
				jp.steps = append(jp.steps, jsonStep{index: n})
			}
			i += j + 1
		case ' ':
			i++
		default:
			return nil, fmt.Errorf("invalid JSON path %q at character %d", s, i+1)
		}
	}
	return jp, nil
}

// eval appends the nodes the path reaches from n to out.
func (jp *jsonPath) eval(n *jsonNode, step int, out []*jsonNode) []*jsonNode {
	if step == len(jp.steps) {
		return append(out, n)
	}
	st := jp.steps[step]
	switch {
	case st.member && n.kind == 'o':
		for i, k := range n.keys {
			if st.wild || k == st.key {
				out = jp.eval(n.vals[i], step+1, out)
				if !st.wild {
					break
				}
			}
		}
	case !st.member && n.kind == 'a':
		if st.wild {
			for _, v := range n.vals {
				out = jp.eval(v, step+1, out)
			}
		} else if st.index < len(n.vals) {
			out = jp.eval(n.vals[st.index], step+1, out)
		}
	case !st.member && !st.wild && st.index == 0:
		out = jp.eval(n, step+1, out) // MySQL: a scalar is its own [0]
	}
	return out
}

// pathCache holds the paths of a call: parsed once when literal.
type pathCache struct{ fixed []*jsonPath }

func newPathCache(args []Expr, from int) (*pathCache, error) {
	pc := &pathCache{}
	for _, a := range args[from:] {
		v, ok := literalValue(a)
		s, isStr := v.(string)
		if !ok || !isStr {
			return &pathCache{}, nil
		}
		jp, err := parseJSONPath(s)
		if err != nil {
			return nil, &kindError{msg: err.Error(), kind: ErrInvalidArgument}
		}
		pc.fixed = append(pc.fixed, jp)
	}
	return pc, nil
}

func (pc *pathCache) get(ec *evalCtx, k int, text string) (*jsonPath, error) {
	if pc.fixed != nil {
		return pc.fixed[k], nil
	}
	jp, err := parseJSONPath(text)
	if err != nil {
		return nil, dataError(ec, "%v", err)
	}
	return jp, nil
}

func registerJSON() {
	doc := func(ec *evalCtx, s string) (*jsonNode, error) {
		n, err := parseJSON(s)
		if err != nil {
			short := s
			if r := []rune(short); len(r) > 40 {
				short = string(r[:40]) + "…"
			}
			return nil, dataError(ec, "invalid JSON text %q: %v", short, err)
		}
		return n, nil
	}
	type rowFunc func(ec *evalCtx, a []arrow.Array, node func(i int) (*jsonNode, error), paths func(i int) ([]*jsonPath, error)) (arrow.Array, error)
	reg := func(name string, lo, hi int, k rowFunc) {
		registry[name] = func(args []Expr, ret arrow.DataType) (bound, error) {
			if _, err := checkArgs(name, args, lo, hi, isStr); err != nil {
				return bound{}, err
			}
			pc, err := newPathCache(args, 1)
			if err != nil {
				return bound{}, err
			}
			return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
				a, release, err := materializeAll(ec, o)
				if err != nil {
					return nil, err
				}
				defer release()
				s := strAt(a[0])
				texts := make([]func(int) string, len(a)-1)
				for j := range texts {
					texts[j] = strAt(a[j+1])
				}
				paths := make([]*jsonPath, len(texts))
				return k(ec, a, func(i int) (*jsonNode, error) { return doc(ec, s(i)) }, func(i int) ([]*jsonPath, error) {
					for j := range texts {
						jp, err := pc.get(ec, j, texts[j](i))
						if err != nil {
							return nil, err
						}
						paths[j] = jp
					}
					return paths, nil
				})
			}}, nil
		}
	}
	// extract finds what the paths reach in row i: the node itself for one
	// path without wildcards, else an array of all matches.
	extract := func(node func(int) (*jsonNode, error), paths func(int) ([]*jsonPath, error), i int) (*jsonNode, error) {
		n, err := node(i)
		if err != nil {
			return nil, err
		}
		ps, err := paths(i)
		if err != nil {
			return nil, err
		}
		var found []*jsonNode
		for _, p := range ps {
			found = p.eval(n, 0, found)
		}
		if len(found) == 0 {
			return nil, nil
		}
		if len(ps) == 1 && !ps[0].wild {
			return found[0], nil
		}
		return &jsonNode{kind: 'a', vals: found}, nil
	}
	reg("json_extract", 2, -1, func(ec *evalCtx, a []arrow.Array, node func(int) (*jsonNode, error), paths func(int) ([]*jsonPath, error)) (arrow.Array, error) {
		return rowStrings(ec, a, func(i int) (string, bool, error) {
			r, err := extract(node, paths, i)
			if err != nil || r == nil {
				return "", false, err
			}
			return r.text(), true, nil
		})
	})
	reg("json_value", 2, 2, func(ec *evalCtx, a []arrow.Array, node func(int) (*jsonNode, error), paths func(int) ([]*jsonPath, error)) (arrow.Array, error) {
		return rowStrings(ec, a, func(i int) (string, bool, error) {
			r, err := extract(node, paths, i)
			if err != nil || r == nil || r.kind == 'o' || r.kind == 'a' || r.kind == 'z' {
				return "", false, err
			}
			return r.unquoted(), true, nil
		})
	})
	reg("json_length", 1, 2, func(ec *evalCtx, a []arrow.Array, node func(int) (*jsonNode, error), paths func(int) ([]*jsonPath, error)) (arrow.Array, error) {
		return rowFixed(ec, a, func(i int) (int64, bool, error) {
			var r *jsonNode
			var err error
			if len(a) == 1 {
				r, err = node(i)
			} else {
				r, err = extract(node, paths, i)
			}
			if err != nil || r == nil {
				return 0, false, err
			}
			if r.kind == 'o' || r.kind == 'a' {
				return int64(len(r.vals)), true, nil
			}
			return 1, true, nil
		})
	})
	reg("json_valid", 1, 1, func(ec *evalCtx, a []arrow.Array, _ func(int) (*jsonNode, error), _ func(int) ([]*jsonPath, error)) (arrow.Array, error) {
		s := strAt(a[0])
		return rowBools(ec, a, func(i int) (bool, bool, error) {
			_, err := parseJSON(s(i))
			return err == nil, true, nil
		})
	})
	reg("json_unquote", 1, 1, func(ec *evalCtx, a []arrow.Array, _ func(int) (*jsonNode, error), _ func(int) ([]*jsonPath, error)) (arrow.Array, error) {
		s := strAt(a[0])
		return rowStrings(ec, a, func(i int) (string, bool, error) {
			v := s(i)
			if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
				return v, true, nil
			}
			var out string
			if err := json.Unmarshal([]byte(v), &out); err != nil {
				return "", false, dataError(ec, "invalid JSON string %s", v)
			}
			return out, true, nil
		})
	})
}
