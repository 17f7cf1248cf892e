package connectors

import (
	"fmt"
	"strings"
	"testing"
)

func TestSecretsRedacted(t *testing.T) {
	for k, want := range map[string]bool{
		"properties.sasl.password": true, "sasl.password": true, "properties.sasl.jaas.config": true,
		"properties.ssl.key.password": true, "aws.secret.access.key": true, "api.key": true, "oauth.token": true,
		"properties.sasl.username": false, "key": false, "properties.ssl.key.location": false, "path": false, "topic": false,
	} {
		if IsSecret(k) != want {
			t.Errorf("IsSecret(%q) = %v", k, !want)
		}
	}
	o := Options{"connector": "kafka", "properties.sasl.password": "hunter2", "properties.sasl.username": "alice"}
	for _, s := range []string{fmt.Sprint(o), fmt.Sprintf("%v", o), fmt.Sprintf("%s", o), fmt.Sprintf("%#v", o), fmt.Sprint(o.Redacted())} {
		if strings.Contains(s, "hunter2") || !strings.Contains(s, "***") || !strings.Contains(s, "alice") {
			t.Errorf("printed options %s", s)
		}
	}
	if o["properties.sasl.password"] != "hunter2" || o.Redacted()["properties.sasl.password"] != Mask {
		t.Error("Redacted changed the original or did not mask the copy")
	}
}
