package connectors

import (
	"fmt"
	"sort"
	"strings"
)

// Mask replaces a secret option's value wherever options are shown.
const Mask = "***"

// secretWords mark option keys whose values are credentials: Kafka's
// 'properties.sasl.password', 'properties.sasl.jaas.config' (it embeds
// the password) and 'properties.ssl.key.password', and any connector's
// tokens, secrets and API keys.
var secretWords = []string{"password", "secret", "token", "jaas", "api.key", "apikey", "credential"}

// IsSecret reports whether the option key holds a credential, which is
// never echoed: not in errors, EXPLAIN, SHOW, DESCRIBE, logs or metrics.
// It is the one place that decision is made.
func IsSecret(key string) bool {
	k := strings.ToLower(key)
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// Redact is value, or Mask when key is a secret.
func Redact(key, value string) string {
	if IsSecret(key) {
		return Mask
	}
	return value
}

// Redacted is a copy of o with every secret value replaced by Mask.
func (o Options) Redacted() Options {
	out := make(Options, len(o))
	for k, v := range o {
		out[k] = Redact(k, v)
	}
	return out
}

// String renders the options sorted, secrets redacted, so that printing
// Options by accident (%v, %s, a log line) cannot leak a password.
func (o Options) String() string {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("'%s' = '%s'", k, Redact(k, o[k]))
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// GoString is String: %#v must not leak secrets either.
func (o Options) GoString() string { return o.String() }
