package expr

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// maxStringResult bounds what REPEAT, LPAD and RPAD build for one row
// (MySQL's max_allowed_packet plays this part): a typo'd count must fail
// the query, not exhaust memory.
const maxStringResult = 16 << 20

// String functions count characters (UTF-8 code points), as MySQL does,
// and follow MySQL where it has the function: LPAD/RPAD truncate a longer
// string, LOCATE/INSTR are 1-based and 0 when not found. SPLIT_PART and
// INITCAP, which MySQL lacks, follow DuckDB and PostgreSQL.
func registerStringFuncs() {
	reg := func(name string, lo, hi int, ok []func(arrow.Type) bool, k func(ec *evalCtx, a []arrow.Array) (arrow.Array, error)) {
		registry[name] = func(args []Expr, ret arrow.DataType) (bound, error) {
			if _, err := checkArgs(name, args, lo, hi, ok...); err != nil {
				return bound{}, err
			}
			return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
				arrs, release, err := materializeAll(ec, o)
				if err != nil {
					return nil, err
				}
				defer release()
				return k(ec, arrs)
			}}, nil
		}
	}
	strInt := []func(arrow.Type) bool{isStr, isInt}
	strStrInt := []func(arrow.Type) bool{isStr, isStr, isInt}
	for _, name := range []string{"lpad", "rpad"} {
		left := name == "lpad"
		reg(name, 3, 3, []func(arrow.Type) bool{isStr, isInt, isStr}, func(ec *evalCtx, a []arrow.Array) (arrow.Array, error) {
			s, n, pad := strAt(a[0]), intAt(a[1]), strAt(a[2])
			return rowStrings(ec, a, func(i int) (string, bool, error) {
				return padString(ec, s(i), n(i), pad(i), left)
			})
		})
	}
	reg("repeat", 2, 2, strInt, func(ec *evalCtx, a []arrow.Array) (arrow.Array, error) {
		s, n := strAt(a[0]), intAt(a[1])
		return rowStrings(ec, a, func(i int) (string, bool, error) {
			if n(i) <= 0 || s(i) == "" {
				return "", true, nil
			}
			if int64(len(s(i)))*n(i) > maxStringResult {
				return "", false, dataError(ec, "the result would be longer than %d bytes", maxStringResult)
			}
			return strings.Repeat(s(i), int(n(i))), true, nil
		})
	})
	reg("reverse", 1, 1, []func(arrow.Type) bool{isStr}, func(ec *evalCtx, a []arrow.Array) (arrow.Array, error) {
		s := strAt(a[0])
		return rowStrings(ec, a, func(i int) (string, bool, error) {
			r := []rune(s(i))
			for x, y := 0, len(r)-1; x < y; x, y = x+1, y-1 {
				r[x], r[y] = r[y], r[x]
			}
			return string(r), true, nil
		})
	})
	for _, name := range []string{"left", "right"} {
		left := name == "left"
		reg(name, 2, 2, strInt, func(ec *evalCtx, a []arrow.Array) (arrow.Array, error) {
			s, n := strAt(a[0]), intAt(a[1])
			return rowStrings(ec, a, func(i int) (string, bool, error) {
				k := n(i)
				if k <= 0 {
					return "", true, nil
				}
				r := []rune(s(i))
				if k >= int64(len(r)) {
					return s(i), true, nil
				}
				if left {
					return string(r[:k]), true, nil
				}
				return string(r[int64(len(r))-k:]), true, nil
			})
		})
	}
	// locate(substr, str[, pos]); the binder maps INSTR and POSITION here.
	registry["locate"] = func(args []Expr, ret arrow.DataType) (bound, error) {
		if _, err := checkArgs("locate", args, 2, 3, isStr, isStr, isInt); err != nil {
			return bound{}, err
		}
		return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
			a, release, err := materializeAll(ec, o)
			if err != nil {
				return nil, err
			}
			defer release()
			sub, s := strAt(a[0]), strAt(a[1])
			pos := func(int) int64 { return 1 }
			if len(a) == 3 {
				pos = intAt(a[2])
			}
			return rowFixed(ec, a, func(i int) (int64, bool, error) {
				return locate(sub(i), s(i), pos(i)), true, nil
			})
		}}, nil
	}
	reg("split_part", 3, 3, strStrInt, func(ec *evalCtx, a []arrow.Array) (arrow.Array, error) {
		s, d, n := strAt(a[0]), strAt(a[1]), intAt(a[2])
		return rowStrings(ec, a, func(i int) (string, bool, error) {
			var parts []string
			if d(i) == "" {
				parts = []string{s(i)}
			} else {
				parts = strings.Split(s(i), d(i))
			}
			k := n(i)
			if k < 0 {
				k += int64(len(parts)) + 1
			}
			if k < 1 || k > int64(len(parts)) {
				return "", true, nil
			}
			return parts[k-1], true, nil
		})
	})
	reg("substring_index", 3, 3, strStrInt, func(ec *evalCtx, a []arrow.Array) (arrow.Array, error) {
		s, d, n := strAt(a[0]), strAt(a[1]), intAt(a[2])
		return rowStrings(ec, a, func(i int) (string, bool, error) {
			return substringIndex(s(i), d(i), n(i)), true, nil
		})
	})
	reg("initcap", 1, 1, []func(arrow.Type) bool{isStr}, func(ec *evalCtx, a []arrow.Array) (arrow.Array, error) {
		s := strAt(a[0])
		return rowStrings(ec, a, func(i int) (string, bool, error) {
			var b strings.Builder
			inWord := false
			for _, r := range s(i) {
				if unicode.IsLetter(r) || unicode.IsDigit(r) {
					if inWord {
						b.WriteRune(unicode.ToLower(r))
					} else {
						b.WriteRune(unicode.ToUpper(r))
					}
					inWord = true
					continue
				}
				inWord = false
				b.WriteRune(r)
			}
			return b.String(), true, nil
		})
	})
	hashes := map[string]func() hash.Hash{"md5": md5.New, "sha1": sha1.New}
	for name, h := range hashes {
		reg(name, 1, 1, []func(arrow.Type) bool{isStr}, func(ec *evalCtx, a []arrow.Array) (arrow.Array, error) {
			s := strAt(a[0])
			return rowStrings(ec, a, func(i int) (string, bool, error) {
				return hashHex(h(), s(i)), true, nil
			})
		})
	}
	reg("sha2", 2, 2, strInt, func(ec *evalCtx, a []arrow.Array) (arrow.Array, error) {
		s, bits := strAt(a[0]), intAt(a[1])
		return rowStrings(ec, a, func(i int) (string, bool, error) {
			var h hash.Hash
			switch bits(i) {
			case 0, 256:
				h = sha256.New()
			case 224:
				h = sha256.New224()
			case 384:
				h = sha512.New384()
			case 512:
				h = sha512.New()
			default:
				return "", false, nil // MySQL: NULL for other lengths
			}
			return hashHex(h, s(i)), true, nil
		})
	})
	registry["uuid"] = func(args []Expr, ret arrow.DataType) (bound, error) {
		if _, err := argTypes(args, 0, 0); err != nil {
			return bound{}, err
		}
		return bound{k: func(ec *evalCtx, _ []operand) (arrow.Array, error) {
			b := array.NewStringBuilder(ec.mem)
			defer b.Release()
			b.Reserve(ec.n)
			var u [16]byte
			for i := 0; i < ec.n; i++ {
				if _, err := rand.Read(u[:]); err != nil {
					return nil, fmt.Errorf("uuid: %w", err)
				}
				u[6] = u[6]&0x0f | 0x40 // version 4
				u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
				h := hex.EncodeToString(u[:])
				b.Append(h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:])
			}
			return b.NewArray(), nil
		}}, nil
	}
}

func hashHex(h hash.Hash, s string) string {
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

// padString is MySQL's LPAD/RPAD: the result has exactly n characters, s
// truncated or padded with pad; NULL for a negative n, or when padding is
// needed and pad is empty.
func padString(ec *evalCtx, s string, n int64, pad string, left bool) (string, bool, error) {
	if n < 0 {
		return "", false, nil
	}
	l := int64(utf8.RuneCountInString(s))
	if l >= n {
		return string([]rune(s)[:n]), true, nil
	}
	if pad == "" {
		return "", false, nil
	}
	if n*int64(utf8.UTFMax) > maxStringResult {
		return "", false, dataError(ec, "the result would be longer than %d bytes", maxStringResult)
	}
	need := n - l
	pr := []rune(pad)
	fill := make([]rune, need)
	for k := range fill {
		fill[k] = pr[k%len(pr)]
	}
	if left {
		return string(fill) + s, true, nil
	}
	return s + string(fill), true, nil
}

// locate is MySQL's LOCATE(sub, s, pos): the 1-based character position
// of the first sub in s at or after pos, 0 if none.
func locate(sub, s string, pos int64) int64 {
	if pos < 1 {
		return 0
	}
	r := []rune(s)
	if pos > int64(len(r))+1 {
		return 0
	}
	rest := string(r[pos-1:])
	k := strings.Index(rest, sub)
	if k < 0 {
		return 0
	}
	return pos + int64(utf8.RuneCountInString(rest[:k]))
}

// substringIndex is MySQL's SUBSTRING_INDEX: the part of s before the
// n-th delim (n > 0), or after the n-th delim counted from the end (n < 0).
func substringIndex(s, delim string, n int64) string {
	if delim == "" || n == 0 {
		return ""
	}
	if n > 0 {
		idx := 0
		for k := int64(0); k < n; k++ {
			j := strings.Index(s[idx:], delim)
			if j < 0 {
				return s
			}
			idx += j + len(delim)
		}
		return s[:idx-len(delim)]
	}
	end := len(s)
	for k := int64(0); k < -n; k++ {
		j := strings.LastIndex(s[:end], delim)
		if j < 0 {
			return s
		}
		end = j
	}
	return s[end+len(delim):]
}
