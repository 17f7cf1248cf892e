package sql

import (
	"reflect"
	"strings"
	"testing"
)

func TestColumnModifiers(t *testing.T) {
	cases := []struct {
		text        string
		notNull     []bool
		unsigned    []bool
		key         []string
		notEnforced bool
		err         string
	}{
		{text: "CREATE TABLE t (a INT NOT NULL, b BIGINT UNSIGNED NULL, c VARCHAR)",
			notNull: []bool{true, false, false}, unsigned: []bool{false, true, false}},
		{text: "CREATE TABLE t (a INT PRIMARY KEY, b INT UNSIGNED NOT NULL)",
			notNull: []bool{false, true}, unsigned: []bool{false, true}, key: []string{"a"}},
		{text: "CREATE TABLE t (A INT, b VARCHAR, PRIMARY KEY (a, B) NOT ENFORCED)",
			notNull: []bool{false, false}, unsigned: []bool{false, false}, key: []string{"A", "b"}, notEnforced: true},
		{text: "CREATE TABLE t (a INT NOT NULL NULL)", err: "line 1:32: column \"a\" is declared both NOT NULL and NULL"},
		{text: "CREATE TABLE t (a INT PRIMARY KEY, PRIMARY KEY (a))", err: "only one PRIMARY KEY is allowed"},
		{text: "CREATE TABLE t (a INT, PRIMARY KEY (b))", err: "primary key column \"b\" is not a declared column"},
		{text: "CREATE TABLE t (a DOUBLE UNSIGNED)", err: "UNSIGNED applies to integer columns, not DOUBLE"},
		{text: "CREATE TABLE t (a INT UNIQUE)", err: "column UNIQUE is not supported"},
	}
	for _, c := range cases {
		stmts, err := Parse(c.text)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want %q", c.text, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.text, err)
		}
		ct := stmts[0].(*CreateTable)
		var nn, us []bool
		for _, col := range ct.Columns {
			nn, us = append(nn, col.NotNull), append(us, col.Unsigned)
		}
		if !reflect.DeepEqual(nn, c.notNull) || !reflect.DeepEqual(us, c.unsigned) || !reflect.DeepEqual(ct.PrimaryKey, c.key) || ct.KeyNotEnforced != c.notEnforced {
			t.Errorf("%s: not null %v, unsigned %v, key %v (not enforced %v)", c.text, nn, us, ct.PrimaryKey, ct.KeyNotEnforced)
		}
	}
}
