package planner

import (
	"fmt"
	"testing"
)

// BenchmarkBindOr binds `WHERE value = 0 OR value = 1 OR …` of growing
// length: binding must stay linear in the number of terms (it was
// quadratic: every column reference converted its offset to a line and
// column by rescanning the text before it).
func BenchmarkBindOr(b *testing.B) {
	cat := testCatalog(b)
	for _, n := range []int{1000, 10000, 50000} {
		q := parseQuery(b, "SELECT id FROM orders WHERE "+chain(n, "OR", func(i int) string { return fmt.Sprintf("value = %d", i) }))
		b.Run(fmt.Sprintf("terms=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := Bind(q, cat); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
