package sluice_test

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestUpsertSourcePrimaryKey: an upsert-json source declared with only
// PRIMARY KEY … NOT ENFORCED (no 'key' option) is keyed by its primary
// key, as Flink's upsert-kafka: later records of a key replace earlier
// ones and a tombstone deletes the key.
func TestUpsertSourcePrimaryKey(t *testing.T) {
	addr := kCluster(t, map[string]int32{"prices": 1})
	row := func(id int, price int) *kgo.Record {
		return &kgo.Record{Topic: "prices", Key: []byte(fmt.Sprint(id)), Value: []byte(fmt.Sprintf(`{"id":%d,"price":%d}`, id, price))}
	}
	kProduce(t, addr, row(1, 10), row(2, 20), row(1, 15), row(3, 5),
		&kgo.Record{Topic: "prices", Key: []byte("3")})
	db, mem := kOpen(t, kConfig())
	defer mem.AssertSize(t, 0)
	defer db.Close()
	kExec(t, db, fmt.Sprintf(`CREATE TABLE prices (id BIGINT, price BIGINT, PRIMARY KEY (id) NOT ENFORCED)
		WITH (connector = 'kafka', topic = 'prices', brokers = '%s', format = 'upsert-json', 'scan.startup.mode' = 'earliest')`, addr))
	if got, want := joinRows(kRows(t, db, "SELECT id, price FROM prices ORDER BY id")), "1 15|2 20"; got != want {
		t.Errorf("upsert source keyed by its PRIMARY KEY: %s, want %s", got, want)
	}
}
