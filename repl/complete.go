package repl

import (
	"sort"
	"strings"
	"unicode"

	"github.com/sluicesql/sluice"
	"github.com/sluicesql/sluice/sql"
)

// completer suggests keywords, functions, source and sink names, column
// names and backslash commands for the word under the cursor. It reads
// the catalog on every Tab, so sources created a moment ago complete.
type completer struct {
	tables func() []sluice.TableInfo
}

// commands are the backslash commands, for completion and \help.
var commands = []struct{ name, args, help string }{
	{`\help`, "", "show this help"},
	{`\sources`, "", "list sources and sinks"},
	{`\describe`, "name", "show the columns of a source or sink"},
	{`\options`, "[connector]", "list the WITH options of a connector (file, kafka, generator, stdout)"},
	{`\format`, "table|csv|json", "set the output format"},
	{`\timing`, "", "toggle printing how long each statement took"},
	{`\set`, "[name value]", "set a ${name} variable, or list them"},
	{`\i`, "file.sql", "run the statements of a file"},
	{`\q`, "", "quit (also Ctrl-D)"},
}

// Do implements readline.AutoCompleter: it returns the suffixes that
// complete the word before pos, and the word's length.
func (c *completer) Do(line []rune, pos int) ([][]rune, int) {
	if pos > len(line) {
		pos = len(line)
	}
	start := pos
	for start > 0 && isWordRune(line[start-1]) {
		start--
	}
	if start > 0 && line[start-1] == '\\' && strings.TrimSpace(string(line[:start-1])) == "" {
		start--
	}
	word := string(line[start:pos])
	var out [][]rune
	for _, cand := range c.candidates(string(line[:start]), word) {
		out = append(out, []rune(cand[len(word):]))
	}
	return out, len([]rune(word))
}

// candidates lists the completions of word, given the text before it.
// Keywords keep the case the user typed; names keep their own.
func (c *completer) candidates(before, word string) []string {
	if strings.HasPrefix(word, `\`) {
		var out []string
		for _, cmd := range commands {
			if strings.HasPrefix(cmd.name, word) {
				out = append(out, cmd.name)
			}
		}
		return out
	}
	if word == "" {
		return nil
	}
	lw := strings.ToLower(word)
	seen := map[string]bool{}
	var out []string
	add := func(cand string) {
		if strings.HasPrefix(strings.ToLower(cand), lw) && !seen[cand] && len(cand) > len(word) {
			seen[cand] = true
			out = append(out, word+cand[len(word):])
		}
	}
	var tables []sluice.TableInfo
	if c.tables != nil {
		tables = c.tables()
	}
	for _, t := range tables {
		add(t.Name)
	}
	if strings.HasPrefix(strings.TrimSpace(before), `\describe`) {
		sort.Strings(out)
		return out
	}
	for _, t := range tables {
		for _, col := range t.Columns {
			add(col)
		}
	}
	lower := word == strings.ToLower(word)
	for _, kw := range sql.Keywords() {
		if lower {
			kw = strings.ToLower(kw)
		}
		add(kw)
	}
	sort.Strings(out)
	return out
}

func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}
