package exec

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestWindowAssign(t *testing.T) {
	sch := schemaOf(f("ts", tsUS), f("v", i64))
	data := `[{"ts":"2024-01-01T00:00:03Z","v":1},{"ts":null,"v":2},{"ts":"2024-01-01T00:00:05Z","v":3},{"ts":"2024-01-01T00:00:14.999999Z","v":4}]`
	tests := []struct {
		name        string
		kind        WindowKind
		size, slide time.Duration
		want        []string
	}{
		{"tumble", WindowTumble, 10 * time.Second, 0, []string{
			"2024-01-01 00:00:03Z|1|2024-01-01 00:00:00Z|2024-01-01 00:00:10Z",
			"2024-01-01 00:00:05Z|3|2024-01-01 00:00:00Z|2024-01-01 00:00:10Z",
			"2024-01-01 00:00:14.999999Z|4|2024-01-01 00:00:10Z|2024-01-01 00:00:20Z",
		}},
		{"hop", WindowHop, 10 * time.Second, 5 * time.Second, []string{
			"2024-01-01 00:00:03Z|1|2023-12-31 23:59:55Z|2024-01-01 00:00:05Z",
			"2024-01-01 00:00:03Z|1|2024-01-01 00:00:00Z|2024-01-01 00:00:10Z",
			"2024-01-01 00:00:05Z|3|2024-01-01 00:00:00Z|2024-01-01 00:00:10Z",
			"2024-01-01 00:00:05Z|3|2024-01-01 00:00:05Z|2024-01-01 00:00:15Z",
			"2024-01-01 00:00:14.999999Z|4|2024-01-01 00:00:05Z|2024-01-01 00:00:15Z",
			"2024-01-01 00:00:14.999999Z|4|2024-01-01 00:00:10Z|2024-01-01 00:00:20Z",
		}},
		{"hop with gaps", WindowHop, 2 * time.Second, 5 * time.Second, []string{
			"2024-01-01 00:00:05Z|3|2024-01-01 00:00:05Z|2024-01-01 00:00:07Z",
		}},
	}
	for _, tc := range tests {
		for _, bs := range batchSizes {
			t.Run(fmt.Sprintf("%s/batch%d", tc.name, bs), func(t *testing.T) {
				mem := newMem(t)
				op, err := NewWindowAssign(mem, input(t, mem, sch, data, bs), tc.kind, 0, tc.size, tc.slide)
				if err != nil {
					t.Fatal(err)
				}
				eq(t, collect(t, op), tc.want)
			})
		}
	}
}

func TestWindowAssignErrors(t *testing.T) {
	mem := newMem(t)
	in := input(t, mem, schemaOf(f("ts", tsUS), f("v", i64)), `[]`, 1)
	defer in.Close()
	if _, err := NewWindowAssign(mem, in, WindowTumble, 1, time.Second, 0); err == nil {
		t.Error("non-timestamp time column accepted")
	}
	if _, err := NewWindowAssign(mem, in, WindowHop, 0, time.Second, 0); err == nil {
		t.Error("zero slide accepted")
	}
	if _, err := NewSessionWindow(mem, in, 0, 0); err == nil {
		t.Error("zero gap accepted")
	}
}

func TestSessionWindow(t *testing.T) {
	sch := schemaOf(f("ts", tsUS), f("v", i64))
	data := `[{"ts":"2024-01-01T00:00:01Z","v":1},{"ts":"2024-01-01T00:00:03Z","v":2},{"ts":"2024-01-01T00:00:10Z","v":3},
		{"ts":null,"v":4},{"ts":"2024-01-01T00:00:12Z","v":5},{"ts":"2024-01-01T00:00:02Z","v":6},{"ts":"2024-01-01T00:00:18Z","v":7}]`
	want := []string{
		"2024-01-01 00:00:01Z|1|2024-01-01 00:00:01Z|2024-01-01 00:00:08Z",
		"2024-01-01 00:00:02Z|6|2024-01-01 00:00:01Z|2024-01-01 00:00:08Z",
		"2024-01-01 00:00:03Z|2|2024-01-01 00:00:01Z|2024-01-01 00:00:08Z",
		"2024-01-01 00:00:10Z|3|2024-01-01 00:00:10Z|2024-01-01 00:00:17Z",
		"2024-01-01 00:00:12Z|5|2024-01-01 00:00:10Z|2024-01-01 00:00:17Z",
		// 18 - 12 = 6 > gap: a new session (at exactly gap they would
		// touch and merge, as in Flink).
		"2024-01-01 00:00:18Z|7|2024-01-01 00:00:18Z|2024-01-01 00:00:23Z",
	}
	for _, bs := range batchSizes {
		t.Run(fmt.Sprint(bs), func(t *testing.T) {
			mem := newMem(t)
			op, err := NewSessionWindow(mem, input(t, mem, sch, data, bs), 0, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			eq(t, collect(t, op), want)
		})
	}
}

// WindowStarts, the one window-assignment kernel of batch and streaming,
// against the definition: every multiple of slide whose window [start,
// start+size) holds ts, oldest first.
func TestWindowStarts(t *testing.T) {
	brute := func(ts, size, slide int64) []int64 {
		var out []int64
		for s := FloorDiv(ts-size, slide) * slide; s <= ts; s += slide {
			if s <= ts && ts < s+size {
				out = append(out, s)
			}
		}
		return out
	}
	for _, tc := range []struct{ ts, size, slide int64 }{
		{0, 10, 10}, {9, 10, 10}, {10, 10, 10}, {-1, 10, 10}, {-10, 10, 10}, {-11, 10, 10},
		{7, 10, 5}, {12, 10, 5}, {-1, 10, 5}, {5, 10, 3}, {1, 5, 10}, {7, 5, 10}, {-3, 5, 10}, {-6, 5, 10},
		{999, 1000, 1}, {3, 1, 1},
	} {
		got := WindowStarts(nil, tc.ts, tc.size, tc.slide)
		if want := brute(tc.ts, tc.size, tc.slide); !slices.Equal(got, want) {
			t.Errorf("WindowStarts(%d, size %d, slide %d) = %v, want %v", tc.ts, tc.size, tc.slide, got, want)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		ts, size, slide := r.Int64N(2000)-1000, r.Int64N(50)+1, r.Int64N(50)+1
		if got, want := WindowStarts(nil, ts, size, slide), brute(ts, size, slide); !slices.Equal(got, want) {
			t.Fatalf("WindowStarts(%d, size %d, slide %d) = %v, want %v", ts, size, slide, got, want)
		}
	}
}
