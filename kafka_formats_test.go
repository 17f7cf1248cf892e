package sluice_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkaMetadataColumns: _partition, _offset, _key and _timestamp in SQL.
func TestKafkaMetadataColumns(t *testing.T) {
	addr := kCluster(t, map[string]int32{"orders": 3})
	perPart := map[int32]int{0: 7, 1: 3, 2: 11}
	var recs []*kgo.Record
	for p, n := range perPart {
		for i := 0; i < n; i++ {
			recs = append(recs, &kgo.Record{Topic: "orders", Partition: p, Key: []byte(fmt.Sprintf("k%d", p)),
				Timestamp: kBase.Add(time.Duration(i) * time.Second), Value: kJSON(kOrder{Category: "c", Value: 1, TS: kBase})})
		}
	}
	kProduce(t, addr, recs...)
	db, mem := kOpen(t, kConfig())
	defer mem.AssertSize(t, 0)
	kExec(t, db, `CREATE SOURCE orders (category VARCHAR, value BIGINT, _partition INT, _offset BIGINT, _key VARCHAR, _timestamp TIMESTAMP)
WITH (connector = 'kafka', topic = 'orders', brokers = '`+addr+`', format = 'json')`)
	rows := kRows(t, db, `SELECT _partition, COUNT(*), MIN(_offset), MAX(_offset), MIN(_key), MAX(_timestamp) FROM orders GROUP BY _partition ORDER BY _partition`)
	if len(rows) != len(perPart) {
		t.Fatalf("got %v", rows)
	}
	for _, r := range rows {
		var p int32
		fmt.Sscan(r[0], &p)
		n := perPart[p]
		want := []string{r[0], fmt.Sprint(n), "0", fmt.Sprint(n - 1), fmt.Sprintf("k%d", p), kBase.Add(time.Duration(n-1) * time.Second).Format("2006-01-02 15:04:05")}
		if strings.Join(r, "|") != strings.Join(want, "|") {
			t.Errorf("partition %d: got %v, want %v", p, r, want)
		}
	}
	// Metadata columns filter like any other.
	got := kRows(t, db, `SELECT COUNT(*) FROM orders WHERE _partition = 2 AND _offset >= 5`)
	if got[0][0] != "6" {
		t.Fatalf("filtered count %v, want 6", got)
	}
}

// TestKafkaStartupModes: earliest, latest, timestamp and group-offsets
// through SQL.
func TestKafkaStartupModes(t *testing.T) {
	addr := kCluster(t, map[string]int32{"orders": 2})
	old := kOrders(0, 100, 4, kBase, time.Second)
	oldRecs := kRecords("orders", 2, old)
	for _, r := range oldRecs {
		r.Timestamp = kBase
	}
	kProduce(t, addr, oldRecs...)
	cut := kBase.Add(time.Hour)
	newer := kOrders(100, 60, 4, kBase, time.Second)
	newRecs := kRecords("orders", 2, newer)
	for _, r := range newRecs {
		r.Timestamp = cut.Add(time.Minute)
	}
	kProduce(t, addr, newRecs...)
	q := func(name string) string {
		return `SELECT category, SUM(value) AS total FROM ` + name + ` GROUP BY category`
	}
	db, mem := kOpen(t, kConfig())
	defer mem.AssertSize(t, 0)

	t.Run("earliest", func(t *testing.T) {
		kExec(t, db, kSource("e", addr, "orders", ", 'scan.startup.mode' = 'earliest'"))
		if got, want := kSumMap(t, kRows(t, db, q("e"))), kSums(old, newer); !kEqual(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
	t.Run("timestamp", func(t *testing.T) {
		kExec(t, db, kSource("ts", addr, "orders", fmt.Sprintf(", 'scan.startup.mode' = 'timestamp', 'scan.startup.timestamp-millis' = '%d'", cut.UnixMilli())))
		if got, want := kSumMap(t, kRows(t, db, q("ts"))), kSums(newer); !kEqual(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
	t.Run("group-offsets", func(t *testing.T) {
		// The group committed up to the end of the old records.
		cl := kClient(t, addr)
		adm := kadm.NewClient(cl)
		offs := kadm.Offsets{}
		per := map[int32]int64{}
		for _, r := range oldRecs {
			per[r.Partition]++
		}
		for p, n := range per {
			offs.Add(kadm.Offset{Topic: "orders", Partition: p, At: n, LeaderEpoch: -1})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := adm.CommitAllOffsets(ctx, "g1", offs); err != nil {
			t.Fatal(err)
		}
		kExec(t, db, kSource("g", addr, "orders", ", 'group.id' = 'g1', 'scan.startup.mode' = 'group-offsets'"))
		if got, want := kSumMap(t, kRows(t, db, q("g"))), kSums(newer); !kEqual(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
	t.Run("latest", func(t *testing.T) {
		kExec(t, db, kSource("l", addr, "orders", ", 'scan.startup.mode' = 'latest'"))
		if rows := kRows(t, db, q("l")); len(rows) != 0 {
			t.Fatalf("batch from latest read %v", rows)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		rows, err := db.Query(ctx, q("l")+" EMIT CHANGES")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		// The reader is positioned once Query returns: only what comes
		// after it counts.
		fresh := kOrders(500, 30, 4, kBase, time.Second)
		kProduce(t, addr, kRecords("orders", 2, fresh)...)
		if got, want := kFoldUntil(t, rows, kSums(fresh), 20*time.Second), kSums(fresh); !kEqual(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
}

// TestKafkaFormats: csv and raw values through SQL.
func TestKafkaFormats(t *testing.T) {
	addr := kCluster(t, map[string]int32{"csv": 2, "raw": 1})
	orders := kOrders(0, 90, 3, kBase, time.Second)
	var csvRecs, rawRecs []*kgo.Record
	for i, o := range orders {
		csvRecs = append(csvRecs, &kgo.Record{Topic: "csv", Partition: int32(i % 2), Value: []byte(fmt.Sprintf("%s,%d", o.Category, o.Value))})
		rawRecs = append(rawRecs, &kgo.Record{Topic: "raw", Value: []byte(fmt.Sprintf("line %d: %s", i, o.Category))})
	}
	kProduce(t, addr, append(csvRecs, rawRecs...)...)
	db, mem := kOpen(t, kConfig())
	defer mem.AssertSize(t, 0)
	kExec(t, db, `CREATE SOURCE c (category VARCHAR, value BIGINT) WITH (connector = 'kafka', topic = 'csv', brokers = '`+addr+`', format = 'csv');
CREATE SOURCE r WITH (connector = 'kafka', topic = 'raw', brokers = '`+addr+`', format = 'raw')`)
	if got, want := kSumMap(t, kRows(t, db, `SELECT category, SUM(value) FROM c GROUP BY category`)), kSums(orders); !kEqual(got, want) {
		t.Fatalf("csv: got %v, want %v", got, want)
	}
	rows := kRows(t, db, `SELECT COUNT(*), MIN(value), MAX(LENGTH(value)) FROM r WHERE value LIKE '%c1'`)
	n, maxLen, minV := 0, 0, ""
	for _, r := range rawRecs {
		if v := string(r.Value); strings.HasSuffix(v, "c1") {
			n++
			maxLen = max(maxLen, len(v))
			if minV == "" || v < minV {
				minV = v
			}
		}
	}
	if want := []string{fmt.Sprint(n), minV, fmt.Sprint(maxLen)}; strings.Join(rows[0], "|") != strings.Join(want, "|") {
		t.Fatalf("raw: got %v, want %v", rows, want)
	}
}

// TestKafkaBadRecords: a record that does not decode fails the query
// naming topic/partition/offset, or is skipped, or is dead-lettered with
// the error in a header.
func TestKafkaBadRecords(t *testing.T) {
	addr := kCluster(t, map[string]int32{"orders": 1, "dlq": 1})
	good := kOrders(0, 20, 2, kBase, time.Second)
	recs := kRecords("orders", 1, good)
	bad := &kgo.Record{Topic: "orders", Partition: 0, Value: []byte(`{"category":"c0","value":"not a number"}`)}
	recs = append(recs[:10:10], append([]*kgo.Record{bad}, recs[10:]...)...) // offset 10
	kProduce(t, addr, recs...)
	q := `SELECT category, SUM(value) AS total FROM %s GROUP BY category`
	db, mem := kOpen(t, kConfig())
	defer mem.AssertSize(t, 0)

	t.Run("fail", func(t *testing.T) {
		kExec(t, db, kSource("f", addr, "orders", ""))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		rows, err := db.Query(ctx, fmt.Sprintf(q, "f"))
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "orders/0/10") {
			t.Fatalf("error %v, want one naming orders/0/10", err)
		}
	})
	t.Run("skip", func(t *testing.T) {
		kExec(t, db, kSource("s", addr, "orders", ", on_error = 'skip'"))
		if got, want := kSumMap(t, kRows(t, db, fmt.Sprintf(q, "s"))), kSums(good); !kEqual(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
	t.Run("dead-letter", func(t *testing.T) {
		kExec(t, db, kSource("d", addr, "orders", ", on_error = 'dead-letter', 'dead-letter.topic' = 'dlq'"))
		if got, want := kSumMap(t, kRows(t, db, fmt.Sprintf(q, "d"))), kSums(good); !kEqual(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		dl := kConsumeAll(t, addr, "dlq", func(rs []*kgo.Record) bool { return len(rs) >= 1 }, 10*time.Second)
		if len(dl) != 1 || string(dl[0].Value) != string(bad.Value) {
			t.Fatalf("dead letters %v", dl)
		}
		var reason string
		for _, h := range dl[0].Headers {
			if h.Key == "sluice.error" {
				reason = string(h.Value)
			}
		}
		if !strings.Contains(reason, "orders/0/10") {
			t.Fatalf("dead-letter error header %q does not name orders/0/10", reason)
		}
	})
	t.Run("cli", func(t *testing.T) {
		if testing.Short() {
			t.Skip("builds cmd/sluice")
		}
		bin := filepath.Join(t.TempDir(), "sluice")
		if out, err := exec.Command("go", "build", "-o", bin, "./cmd/sluice").CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		script := kSource("o", addr, "orders", "") + ";\n" + fmt.Sprintf(q, "o") + ";\n"
		cmd := exec.Command(bin, "-e", script)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() == 0 {
			t.Fatalf("sluice exited with %v, want a non-zero status", err)
		}
		if !strings.Contains(stderr.String(), "orders/0/10") {
			t.Fatalf("stderr %q does not name orders/0/10", stderr.String())
		}
	})
}
