package exec

import (
	"fmt"
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
