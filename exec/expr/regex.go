package expr

import (
	"regexp"
	"strings"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
)

// Regular expressions are RE2 (Go's regexp): linear time, no
// backreferences. A pattern given as a literal is compiled once when the
// call is bound; patterns read from a column are compiled once each per
// query (patternCache). REGEXP searches: 'abc' REGEXP 'b' is true, as in
// MySQL; anchor with ^…$ for a full match.

// regexFlags turns MySQL's match_type letters into an RE2 flag prefix:
// i case-insensitive, c case-sensitive (the default; the last of i/c
// wins), m multi-line, n dot matches newline. DuckDB's 's' (dot matches
// newline) and 'g' (global, which REGEXP_REPLACE always is) are accepted.
func regexFlags(flags string) (string, error) {
	ci, multi, dotNL := false, false, false
	for _, f := range flags {
		switch f {
		case 'i':
			ci = true
		case 'c':
			ci = false
		case 'm':
			multi = true
		case 'n', 's':
			dotNL = true
		case 'g', 'u':
		default:
			return "", &kindError{msg: "unknown regular expression flag " + string(f) + " (want i, c, m or n)", kind: ErrInvalidArgument}
		}
	}
	var b strings.Builder
	if ci {
		b.WriteString("i")
	}
	if multi {
		b.WriteString("m")
	}
	if dotNL {
		b.WriteString("s")
	}
	if b.Len() == 0 {
		return "", nil
	}
	return "(?" + b.String() + ")", nil
}

// CompileRegex compiles a pattern with MySQL match_type flags; the planner
// checks literal patterns with it so a bad one is a positioned bind error.
func CompileRegex(pattern, flags string) (*regexp.Regexp, error) {
	prefix, err := regexFlags(flags)
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile(prefix + pattern)
	if err != nil {
		return nil, &kindError{msg: "invalid regular expression: " + strings.TrimPrefix(err.Error(), "error parsing regexp: "), kind: ErrInvalidArgument}
	}
	return re, nil
}

// patternCache compiles the patterns of one call: the literal one at bind
// time, column values on first sight. Safe for concurrent use (parallel
// workers share a bound call).
type patternCache struct {
	fixed *regexp.Regexp
	mu    sync.Mutex
	m     map[[2]string]*regexp.Regexp
}

// maxCachedPatterns bounds a cache fed by a column of patterns.
const maxCachedPatterns = 1024

func newPatternCache(args []Expr, pat, flags int) (*patternCache, error) {
	pc := &patternCache{}
	p, pok := literalValue(args[pat])
	f, fok := any(""), true
	if flags >= 0 && flags < len(args) {
		f, fok = literalValue(args[flags])
	}
	ps, isStr := p.(string)
	fs, fIsStr := f.(string)
	if pok && fok && isStr && fIsStr {
		re, err := CompileRegex(ps, fs)
		if err != nil {
			return nil, err
		}
		pc.fixed = re
	}
	return pc, nil
}

func (pc *patternCache) get(ec *evalCtx, pattern, flags string) (*regexp.Regexp, error) {
	if pc.fixed != nil {
		return pc.fixed, nil
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	k := [2]string{pattern, flags}
	if re, ok := pc.m[k]; ok {
		return re, nil
	}
	re, err := CompileRegex(pattern, flags)
	if err != nil {
		return nil, dataError(ec, "%v", err)
	}
	if pc.m == nil || len(pc.m) >= maxCachedPatterns {
		pc.m = map[[2]string]*regexp.Regexp{}
	}
	pc.m[k] = re
	return re, nil
}

// mysqlTemplate turns a replacement written with $1 or \1 group references
// (MySQL's and DuckDB's spellings) into Go's ${1} template syntax; any
// other $ is literal.
func mysqlTemplate(repl string) string {
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if (c == '$' || c == '\\') && i+1 < len(repl) && repl[i+1] >= '0' && repl[i+1] <= '9' {
			j := i + 1
			for j < len(repl) && repl[j] >= '0' && repl[j] <= '9' {
				j++
			}
			b.WriteString("${" + repl[i+1:j] + "}")
			i = j - 1
			continue
		}
		if c == '\\' && i+1 < len(repl) && repl[i+1] == '\\' {
			b.WriteByte('\\')
			i++
			continue
		}
		if c == '$' {
			b.WriteString("$$")
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func registerRegex() {
	// regex binds name with the pattern at argument 1 and the flags (if
	// any) at argument flags; k computes row i given the compiled pattern.
	type rowFunc func(ec *evalCtx, a []arrow.Array, re func(i int) (*regexp.Regexp, error)) (arrow.Array, error)
	regex := func(name string, lo, hi, flags int, ok []func(arrow.Type) bool, k rowFunc) {
		registry[name] = func(args []Expr, ret arrow.DataType) (bound, error) {
			if _, err := checkArgs(name, args, lo, hi, ok...); err != nil {
				return bound{}, err
			}
			pc, err := newPatternCache(args, 1, flags)
			if err != nil {
				return bound{}, err
			}
			return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
				a, release, err := materializeAll(ec, o)
				if err != nil {
					return nil, err
				}
				defer release()
				pat := strAt(a[1])
				fl := func(int) string { return "" }
				if flags < len(a) {
					fl = strAt(a[flags])
				}
				return k(ec, a, func(i int) (*regexp.Regexp, error) { return pc.get(ec, pat(i), fl(i)) })
			}}, nil
		}
	}
	s2 := []func(arrow.Type) bool{isStr, isStr, isStr}
	regex("regexp_like", 2, 3, 2, s2, func(ec *evalCtx, a []arrow.Array, re func(int) (*regexp.Regexp, error)) (arrow.Array, error) {
		s := strAt(a[0])
		return rowBools(ec, a, func(i int) (bool, bool, error) {
			r, err := re(i)
			if err != nil {
				return false, false, err
			}
			return r.MatchString(s(i)), true, nil
		})
	})
	regex("regexp_replace", 3, 4, 3, []func(arrow.Type) bool{isStr}, func(ec *evalCtx, a []arrow.Array, re func(int) (*regexp.Regexp, error)) (arrow.Array, error) {
		s, repl := strAt(a[0]), strAt(a[2])
		return rowStrings(ec, a, func(i int) (string, bool, error) {
			r, err := re(i)
			if err != nil {
				return "", false, err
			}
			return r.ReplaceAllString(s(i), mysqlTemplate(repl(i))), true, nil
		})
	})
	regex("regexp_extract", 2, 3, 99, []func(arrow.Type) bool{isStr, isStr, isInt}, func(ec *evalCtx, a []arrow.Array, re func(int) (*regexp.Regexp, error)) (arrow.Array, error) {
		s := strAt(a[0])
		group := func(int) int64 { return 0 }
		if len(a) == 3 {
			group = intAt(a[2])
		}
		return rowStrings(ec, a, func(i int) (string, bool, error) {
			r, err := re(i)
			if err != nil {
				return "", false, err
			}
			g := group(i)
			if g < 0 || g > int64(r.NumSubexp()) {
				return "", false, dataError(ec, "group %d out of range (the pattern has %d)", g, r.NumSubexp())
			}
			m := r.FindStringSubmatchIndex(s(i))
			if m == nil || m[2*g] < 0 {
				return "", true, nil // DuckDB: '' when nothing matches
			}
			return s(i)[m[2*g]:m[2*g+1]], true, nil
		})
	})
	// regexp_substr(s, pattern[, pos[, occurrence[, match_type]]]), MySQL's.
	regex("regexp_substr", 2, 5, 4, []func(arrow.Type) bool{isStr, isStr, isInt, isInt, isStr}, func(ec *evalCtx, a []arrow.Array, re func(int) (*regexp.Regexp, error)) (arrow.Array, error) {
		s := strAt(a[0])
		pos, occ := func(int) int64 { return 1 }, func(int) int64 { return 1 }
		if len(a) > 2 {
			pos = intAt(a[2])
		}
		if len(a) > 3 {
			occ = intAt(a[3])
		}
		return rowStrings(ec, a, func(i int) (string, bool, error) {
			r, err := re(i)
			if err != nil {
				return "", false, err
			}
			rs := []rune(s(i))
			p := pos(i)
			if p < 1 || p > int64(len(rs))+1 {
				return "", false, dataError(ec, "position %d out of range", p)
			}
			rest := string(rs[p-1:])
			n := occ(i)
			if n < 1 {
				n = 1
			}
			ms := r.FindAllString(rest, int(min(n, 1<<20)))
			if int64(len(ms)) < n {
				return "", false, nil // MySQL: NULL when there is no such match
			}
			return ms[n-1], true, nil
		})
	})
}
