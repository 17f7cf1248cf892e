package sql

import "strings"

// RedactOptions returns text with the value of every WITH option whose
// key secret reports true replaced by '***', so that a statement holding
// a password can be kept (shell history) or shown (an error excerpt)
// without it. The decision of which keys are secret stays with the caller
// (connectors.IsSecret); sql only knows where option values are. With
// keepLength each masked value keeps its length ('*' per byte), so
// positions later on the line still point at the same column. Text that
// does not lex (an unterminated string) comes back with everything from
// the first secret key on masked, since the value cannot be found.
func RedactOptions(text string, secret func(key string) bool, keepLength bool) string {
	lr, err := lex(text)
	toks := lr.tokens
	if err != nil {
		return redactUnlexed(text, secret)
	}
	var b strings.Builder
	last := 0
	depth := 0 // parentheses inside a WITH clause; 0 = outside
	for i, t := range toks {
		switch {
		case depth == 0:
			if t.isPunct("(") && i > 0 && toks[i-1].is("WITH") {
				depth = 1
			}
			continue
		case t.isPunct("("):
			depth++
			continue
		case t.isPunct(")"):
			depth--
			continue
		case !t.isPunct("=") || i == 0 || i+1 >= len(toks):
			continue
		}
		if !secret(optionKeyBefore(toks, i)) {
			continue
		}
		v := toks[i+1]
		if v.kind == tkPunct {
			continue
		}
		b.WriteString(text[last:v.off])
		b.WriteString(mask(v, keepLength))
		last = v.end
	}
	b.WriteString(text[last:])
	return b.String()
}

// optionKeyBefore is the option key ending just before toks[eq] (an =):
// a quoted key, or bare words glued by dots (scan.startup.mode).
func optionKeyBefore(toks []token, eq int) string {
	k := toks[eq-1]
	if k.kind == tkString || k.kind == tkQIdent {
		return strings.ToLower(k.val)
	}
	if k.kind != tkIdent {
		return ""
	}
	key := k.val
	for j := eq - 2; j >= 1 && toks[j].isPunct(".") && toks[j-1].kind == tkIdent; j -= 2 {
		key = toks[j-1].val + "." + key
	}
	return strings.ToLower(key)
}

// mask is the replacement of a value token, quoted as it was.
func mask(v token, keepLength bool) string {
	q := ""
	if v.kind == tkString && len(v.text) >= 2 {
		q = v.text[:1]
	}
	if !keepLength {
		return q + "***" + q
	}
	return q + strings.Repeat("*", len(v.text)-2*len(q)) + q
}

// redactUnlexed masks text from the first secret-looking key to the end
// of its line, for text the lexer cannot split.
func redactUnlexed(text string, secret func(key string) bool) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		low := strings.ToLower(l)
		for _, w := range strings.FieldsFunc(low, func(r rune) bool {
			return !(r == '.' || r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
		}) {
			if secret(w) {
				j := strings.Index(low, w) + len(w)
				lines[i] = l[:j] + " ***"
				break
			}
		}
	}
	return strings.Join(lines, "\n")
}
