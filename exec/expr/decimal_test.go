package expr

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/decimal128"
)

// TestMulDec checks the 64-bit fast path and the big.Int path of mulDec
// against big.Int products, at the 126-bit limit and around the int64
// edges.
func TestMulDec(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	edges := []int64{0, 1, -1, 2, -2, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1, 1 << 62, -(1 << 62), 1 << 31, 3037000499, -3037000500}
	var cases [][2]decimal128.Num
	for _, x := range edges {
		for _, y := range edges {
			cases = append(cases, [2]decimal128.Num{decimal128.FromI64(x), decimal128.FromI64(y)})
		}
	}
	for range 5000 {
		x, y := r.Int64()>>uint(r.IntN(64)), r.Int64()>>uint(r.IntN(64))
		if r.IntN(2) == 0 {
			x = -x
		}
		cases = append(cases, [2]decimal128.Num{decimal128.FromI64(x), decimal128.FromI64(y)})
		// Wider than 64 bits: the big.Int path.
		w := decimal128.New(r.Int64N(1<<40)-(1<<39), r.Uint64())
		cases = append(cases, [2]decimal128.Num{w, decimal128.FromI64(y >> 20)})
	}
	for _, c := range cases {
		want := new(big.Int).Mul(c[0].BigInt(), c[1].BigInt())
		got, ok := mulDec(c[0], c[1])
		if fits := want.BitLen() <= 126; ok != fits {
			t.Fatalf("%s * %s: ok = %v, product has %d bits", c[0].BigInt(), c[1].BigInt(), ok, want.BitLen())
		}
		if ok && got.BigInt().Cmp(want) != 0 {
			t.Fatalf("%s * %s = %s, want %s", c[0].BigInt(), c[1].BigInt(), got.BigInt(), want)
		}
	}
}
