package expr

import (
	"errors"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

func TestAtMostOne(t *testing.T) {
	msg := lit(str, "line 1:8: scalar subquery (SELECT v FROM s) returned more than one row")
	runCases(t, []evalCase{
		{name: "counts up to one pass", types: []arrow.DataType{i64}, rows: `[{"a": 0}, {"a": 1}, {"a": null}]`, build: fn("at_most_one", boo, c(0), msg), wantTyp: boo, want: `[true, true, true]`},
		{name: "a count of two fails naming the subquery", types: []arrow.DataType{i64}, rows: `[{"a": 1}, {"a": 2}]`, build: fn("at_most_one", boo, c(0), msg), errIs: ErrCardinality, errText: "line 1:8: scalar subquery (SELECT v FROM s) returned more than one row"},
		{name: "the message must be a constant", types: []arrow.DataType{i64, str}, rows: `[{"a": 1, "b": "x"}]`, build: fn("at_most_one", boo, c(0), c(1)), errIs: ErrUnsupportedType},
	})
	var de DataError
	if err := (&kindError{msg: "m", kind: ErrCardinality}); !errors.As(error(err), &de) {
		t.Fatal("a kind error is not a DataError")
	}
}
