package kafka

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/exec"
)

// A query killed while in a consumer group leaves a dead member behind.
// Its restart rejoins at once as the same static member (the instance id
// comes from 'group.instance.id' or from the query's checkpoint directory
// through ScanSpec.Instance); a dynamic member had to wait out the dead
// one's 45 s session before the group gave it any partition.
func TestGroupRejoinAfterCrashDoesNotWaitForSession(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  []string
		spec exec.ScanSpec
	}{
		{"group.instance.id", []string{"group.instance.id", "query-1"}, exec.ScanSpec{}},
		{"ScanSpec.Instance", nil, exec.ScanSpec{Instance: "ckpt-abc"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := checkedMem(t)
			c, addr := newCluster(t, map[string]int32{"in": 2})
			cl := manualClient(t, addr)
			var recs []*kgo.Record
			for i := 0; i < 10; i++ {
				recs = append(recs, rec("in", int32(i%2), fmt.Sprint(i)))
			}
			produceTo(t, cl, recs...)
			o := opts(append([]string{"topic", "in", "brokers", addr, "format", "raw", "group.id", "g"}, tc.opt...)...)
			spec := tc.spec
			spec.Linger = time.Millisecond
			first := openSource(t, mem, o, nil, spec)
			if got := readN(t, first, 10, 15*time.Second); len(got) != 10 {
				t.Fatalf("first incarnation read %d rows", len(got))
			}
			// kill -9: the member never leaves (its leave is lost) and
			// stops heartbeating.
			c.ControlKey(int16(kmsg.LeaveGroup), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				return kreq.(*kmsg.LeaveGroupRequest).ResponseKind(), nil, true
			})
			first.Close()
			produceTo(t, cl, rec("in", 0, "10"), rec("in", 1, "11"))
			// The restart reads everything (nothing was committed) well
			// before the dead member's session could time out.
			again := openSource(t, mem, o, nil, spec)
			if got := readN(t, again, 12, 20*time.Second); len(got) != 12 {
				t.Fatalf("restart read %d of 12 rows within 20 s: it waited for the dead member's session", len(got))
			}
		})
	}
}
