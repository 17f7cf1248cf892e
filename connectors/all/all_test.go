package all

import (
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connectors"
)

func TestRegistered(t *testing.T) {
	_, err := connectors.NewSource(connectors.Env{}, connectors.Options{"connector": "nope"}, nil)
	if err == nil {
		t.Fatal("unknown connector: want error")
	}
	for _, name := range []string{"'file'", "'generator'", "'kafka'"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("source %s not registered: %v", name, err)
		}
	}
	_, err = connectors.NewSink(connectors.Env{}, connectors.Options{"connector": "nope"})
	for _, name := range []string{"'file'", "'stdout'"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("sink %s not registered: %v", name, err)
		}
	}
	if _, err := connectors.NewSource(connectors.Env{}, connectors.Options{"connector": "generator", "max_rows": "1"}, nil); err != nil {
		t.Errorf("generator: %v", err)
	}
}
