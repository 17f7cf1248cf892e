package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/sandbox"
)

// Security protocols for 'properties.security.protocol', as Kafka names
// them.
const (
	ProtocolPlaintext     = "PLAINTEXT"
	ProtocolSSL           = "SSL"
	ProtocolSASLPlaintext = "SASL_PLAINTEXT"
	ProtocolSASLSSL       = "SASL_SSL"
)

// SASL mechanisms for 'properties.sasl.mechanism'.
const (
	MechanismPlain       = "PLAIN"
	MechanismSCRAMSHA256 = "SCRAM-SHA-256"
	MechanismSCRAMSHA512 = "SCRAM-SHA-512"
)

// The security options each client reads, without the optional
// 'properties.' prefix (both spellings are accepted, as for group.id).
// Any other sasl.* or ssl.* option is an error rather than ignored, so a
// misspelt or unsupported setting never silently connects without it.
var securityOptions = map[string]bool{
	"security.protocol":                     true,
	"sasl.mechanism":                        true,
	"sasl.username":                         true,
	"sasl.password":                         true,
	"sasl.jaas.config":                      true,
	"ssl.ca.location":                       true,
	"ssl.certificate.location":              true,
	"ssl.key.location":                      true,
	"ssl.endpoint.identification.algorithm": true,
}

// connConfig is how a client reaches the brokers: addresses, the connect
// timeout, and the connection's security. Source and sink configs embed it
// and every kgo client is built from its clientOpts.
type connConfig struct {
	brokers        []string
	connectTimeout time.Duration
	protocol       string
	mechanism      string
	user           string // SASL user, for messages; never the password
	sasl           sasl.Mechanism
	tls            *tls.Config
}

// clientOpts are the kgo options every client of this config starts from.
func (c *connConfig) clientOpts(extra ...kgo.Opt) []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(c.brokers...), kgo.DialTimeout(c.connectTimeout)}
	if c.tls != nil {
		opts = append(opts, kgo.DialTLSConfig(c.tls))
	}
	if c.sasl != nil {
		opts = append(opts, kgo.SASL(c.sasl))
	}
	return append(opts, extra...)
}

// describeErr adds what the user configured to a connection error that
// comes from it (failed authentication, a TLS handshake), so the message
// says what to check. It never includes the password.
func (c *connConfig) describeErr(err error) error {
	var rec tls.RecordHeaderError
	var unk x509.UnknownAuthorityError
	var host x509.HostnameError
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, kerr.IllegalSaslState):
		return fmt.Errorf("kafka: SASL %s authentication as user %q failed (check 'properties.sasl.username' and 'properties.sasl.password'): %w", c.mechanism, c.user, err)
	case c.sasl != nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
		// Some brokers answer bad credentials by closing the connection
		// (kfake does); the first request of a client is the handshake.
		return fmt.Errorf("kafka: SASL %s authentication as user %q failed: the brokers closed the connection (check 'properties.sasl.username', 'properties.sasl.password' and that the listener takes %s over %s): %w", c.mechanism, c.user, c.mechanism, c.protocol, err)
	case errors.Is(err, kerr.UnsupportedSaslMechanism):
		return fmt.Errorf("kafka: the brokers do not accept SASL mechanism %s ('properties.sasl.mechanism'): %w", c.mechanism, err)
	case errors.As(err, &rec):
		return fmt.Errorf("kafka: the brokers did not answer TLS ('properties.security.protocol' = '%s'; is the listener plaintext?): %w", c.protocol, err)
	case errors.As(err, &unk), errors.As(err, &host):
		return fmt.Errorf("kafka: the brokers' TLS certificate is not trusted (set 'properties.ssl.ca.location' to the CA's PEM file): %w", err)
	}
	return err
}

// over names a non-default protocol for "cannot reach brokers" messages
// (" over SASL_SSL"), since a listener speaking another protocol looks to
// the client like one that never answers.
// unreachable says the brokers could not be reached, and how: failed
// fast (connection refused, no such host: the elapsed time is told, not
// the timeout), or gave no answer within 'connect.timeout'.
func (c *connConfig) unreachable(who string, start time.Time, err error) error {
	el := time.Since(start)
	brokers := strings.Join(c.brokers, ",")
	if el < c.connectTimeout*9/10 {
		return fmt.Errorf("%s: cannot reach brokers %s%s (failed after %s): %w", who, brokers, c.over(), el.Round(time.Millisecond), err)
	}
	return fmt.Errorf("%s: brokers %s%s did not answer within %s ('connect.timeout'): %w", who, brokers, c.over(), c.connectTimeout, err)
}

func (c *connConfig) over() string {
	if c.protocol == "" || c.protocol == ProtocolPlaintext {
		return ""
	}
	return " over " + c.protocol
}

// prop reads a security option by its Kafka name, with or without the
// 'properties.' prefix.
func prop(opts connectors.Options, name string) (string, string) {
	if v, ok := opts["properties."+name]; ok {
		return "properties." + name, v
	}
	if v, ok := opts[name]; ok {
		return name, v
	}
	return "properties." + name, ""
}

// jaasField pulls username="…" / password="…" out of a JAAS login line.
var jaasField = regexp.MustCompile(`(?i)\b(username|password)\s*=\s*"((?:[^"\\]|\\.)*)"`)

// parseConnConfig reads brokers, connect.timeout and the security options.
// Files named by ssl.*.location must lie in files (the session sandbox).
// Errors name the option and never contain a secret's value.
func parseConnConfig(files *sandbox.Root, opts connectors.Options) (connConfig, error) {
	var c connConfig
	var err error
	if c.brokers, err = parseBrokers(opts); err != nil {
		return c, err
	}
	if c.connectTimeout, err = parseTimeout(opts); err != nil {
		return c, err
	}
	var unknown []string
	for k := range opts {
		name := strings.TrimPrefix(k, "properties.")
		if (strings.HasPrefix(name, "sasl.") || strings.HasPrefix(name, "ssl.") || strings.HasPrefix(name, "security.")) && !securityOptions[name] {
			unknown = append(unknown, "'"+k+"'")
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return c, optErr("unsupported security option %s (supported: 'properties.security.protocol', 'properties.sasl.mechanism', 'properties.sasl.username', 'properties.sasl.password', 'properties.sasl.jaas.config', 'properties.ssl.ca.location', 'properties.ssl.certificate.location', 'properties.ssl.key.location', 'properties.ssl.endpoint.identification.algorithm'; keys and truststores as PEM files)", strings.Join(unknown, ", "))
	}

	protoKey, proto := prop(opts, "security.protocol")
	c.protocol = strings.ToUpper(strings.TrimSpace(proto))
	if c.protocol == "" {
		c.protocol = ProtocolPlaintext
	}
	var useSASL, useTLS bool
	switch c.protocol {
	case ProtocolPlaintext:
	case ProtocolSSL:
		useTLS = true
	case ProtocolSASLPlaintext:
		useSASL = true
	case ProtocolSASLSSL:
		useSASL, useTLS = true, true
	default:
		return c, optErr("'%s' must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, not %q", protoKey, proto)
	}

	mechKey, mech := prop(opts, "sasl.mechanism")
	userKey, user := prop(opts, "sasl.username")
	passKey, pass := prop(opts, "sasl.password")
	jaasKey, jaas := prop(opts, "sasl.jaas.config")
	if !useSASL {
		for _, k := range []struct{ key, v string }{{mechKey, mech}, {userKey, user}, {passKey, pass}, {jaasKey, jaas}} {
			if k.v != "" {
				return c, optErr("'%s' needs 'properties.security.protocol' = 'SASL_PLAINTEXT' or 'SASL_SSL' (it is %s)", k.key, c.protocol)
			}
		}
	} else {
		if jaas != "" {
			for _, m := range jaasField.FindAllStringSubmatch(jaas, -1) {
				v := strings.ReplaceAll(m[2], `\"`, `"`)
				if strings.EqualFold(m[1], "username") && user == "" {
					user = v
				} else if strings.EqualFold(m[1], "password") && pass == "" {
					pass = v
				}
			}
		}
		c.mechanism = strings.ToUpper(strings.TrimSpace(mech))
		c.user = user
		if user == "" || pass == "" {
			return c, optErr("'properties.security.protocol' = '%s' needs 'properties.sasl.username' and 'properties.sasl.password' (or username and password in 'properties.sasl.jaas.config')", c.protocol)
		}
		switch c.mechanism {
		case "":
			return c, optErr("'properties.security.protocol' = '%s' needs '%s': PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.protocol, mechKey)
		case MechanismPlain:
			c.sasl = plain.Auth{User: user, Pass: pass}.AsMechanism()
		case MechanismSCRAMSHA256:
			c.sasl = scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
		case MechanismSCRAMSHA512:
			c.sasl = scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
		default:
			return c, optErr("'%s' must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, not %q", mechKey, mech)
		}
	}

	caKey, ca := prop(opts, "ssl.ca.location")
	certKey, cert := prop(opts, "ssl.certificate.location")
	keyKey, key := prop(opts, "ssl.key.location")
	algKey, alg := prop(opts, "ssl.endpoint.identification.algorithm")
	if !useTLS {
		for _, k := range []struct{ key, v string }{{caKey, ca}, {certKey, cert}, {keyKey, key}, {algKey, alg}} {
			if k.v != "" {
				return c, optErr("'%s' needs 'properties.security.protocol' = 'SSL' or 'SASL_SSL' (it is %s)", k.key, c.protocol)
			}
		}
		return c, nil
	}
	c.tls = &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != "" {
		pem, err := readSecurityFile(files, caKey, ca)
		if err != nil {
			return c, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return c, optErr("'%s' %q holds no PEM certificate", caKey, ca)
		}
		c.tls.RootCAs = pool
	}
	if (cert == "") != (key == "") {
		return c, optErr("a client certificate needs both '%s' and '%s'", certKey, keyKey)
	}
	if cert != "" {
		certPEM, err := readSecurityFile(files, certKey, cert)
		if err != nil {
			return c, err
		}
		keyPEM, err := readSecurityFile(files, keyKey, key)
		if err != nil {
			return c, err
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			// The parse error never quotes the key material.
			return c, optErr("'%s' %q and '%s' %q are not a PEM certificate and its unencrypted private key: %v", certKey, cert, keyKey, key, err)
		}
		c.tls.Certificates = []tls.Certificate{pair}
	}
	switch strings.ToLower(strings.TrimSpace(alg)) {
	case "https":
	case "", "none":
		if _, set := opts[algKey]; set {
			// Kafka's way to turn off host name checks: the chain is
			// still verified against the CAs, only the name is not.
			c.tls.InsecureSkipVerify = true
			c.tls.VerifyConnection = verifyChainOnly(c.tls.RootCAs)
		}
	default:
		return c, optErr("'%s' must be https or none, not %q", algKey, alg)
	}
	return c, nil
}

// readSecurityFile reads a PEM file an ssl.* option names, inside the
// sandbox.
func readSecurityFile(files *sandbox.Root, key, path string) ([]byte, error) {
	if err := files.Check(key, path); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOption, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, optErr("'%s': %v", key, err)
	}
	return b, nil
}

// verifyChainOnly checks the peer's chain against roots (nil: the system
// pool) without matching the host name.
func verifyChainOnly(roots *x509.CertPool) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("kafka: the broker sent no TLS certificate")
		}
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
		return err
	}
}
