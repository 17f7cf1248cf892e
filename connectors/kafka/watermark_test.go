package kafka

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// markRecord is a watermark record of marks, idle listed in IdleHeader.
func markRecord(t *testing.T, marks map[string]int64, idle ...string) *kgo.Record {
	t.Helper()
	v, err := json.Marshal(marks)
	if err != nil {
		t.Fatal(err)
	}
	rec := &kgo.Record{Value: v, Headers: []kgo.RecordHeader{{Key: WatermarkHeader}}}
	if len(idle) > 0 {
		l, _ := json.Marshal(idle)
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: IdleHeader, Value: l})
	}
	return rec
}

// TestCarriedFold: a repartition partition's watermark per input is
// the least over that input's source partitions once each was heard
// of; an idle partition holds nothing back (all idle: the greatest of
// theirs); a value never moves back; a join's sides are apart.
func TestCarriedFold(t *testing.T) {
	groups := [][]string{{"0|o/0", "0|o/1"}, {"1|p/0"}}
	var c carried
	step := func(rec *kgo.Record, want []int64, moved bool) {
		t.Helper()
		got, m, err := c.fold(rec, groups)
		if err != nil {
			t.Fatal(err)
		}
		if m != moved || len(got) != len(want) {
			t.Fatalf("fold: %v moved %v, want %v moved %v", got, m, want, moved)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("fold: %v, want %v", got, want)
			}
		}
	}
	lo := int64(math.MinInt64)
	step(markRecord(t, map[string]int64{"0|o/0": 10}), []int64{lo, lo}, false) // o/1 not heard of
	step(markRecord(t, map[string]int64{"0|o/1": 5, "1|p/0": 7}), []int64{5, 7}, true)
	step(markRecord(t, map[string]int64{"0|o/1": 3}), []int64{5, 7}, false) // never back
	// o/1 idle: side 0 is o/0's alone.
	step(markRecord(t, map[string]int64{"0|o/1": 6}, "0|o/1"), []int64{10, 7}, true)
	// Both idle: the greatest of theirs.
	step(markRecord(t, map[string]int64{"0|o/0": 12, "0|o/1": 20}, "0|o/0", "0|o/1"), []int64{20, 7}, true)
	// o/1 active again at 8: side 0 = min(o/0 idle → excluded, o/1 8)
	// would be 8, below the 20 handed on: it stays.
	step(markRecord(t, map[string]int64{"0|o/1": 8}), []int64{20, 7}, false)
	step(markRecord(t, map[string]int64{"0|o/0": 30, "0|o/1": 25}), []int64{25, 7}, true)

	// The saved state restores into a fresh view: no waiting for every
	// partition to be heard of again, and what is read later wins.
	saved := c.state()
	var d carried
	if err := d.restore(saved, groups); err != nil {
		t.Fatal(err)
	}
	c = d
	// The next mark hands on the restored view, even one that moves
	// nothing by itself (o/0 at 30 again).
	step(markRecord(t, map[string]int64{"0|o/0": 30}), []int64{25, 7}, true)
	step(markRecord(t, map[string]int64{"1|p/0": 9}), []int64{25, 9}, true)
	if err := d.restore([]byte("{"), groups); err == nil {
		t.Error("a damaged carried state restored")
	}
}
