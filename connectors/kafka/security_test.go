package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/sandbox"
	"github.com/sluicesql/sluice/exec"
)

const secret = "hunter2-s3cr3t" // must never appear in an error

// Every unknown or inconsistent security setting is an error naming the
// option, and no error ever contains the password.
func TestSecurityOptionErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate "+secret), 0o644); err != nil {
		t.Fatal(err)
	}
	sasl := []string{"properties.security.protocol", "SASL_PLAINTEXT", "properties.sasl.username", "u", "properties.sasl.password", secret}
	for _, c := range []struct {
		kv   []string
		want string
	}{
		{[]string{"properties.security.protocol", "SASL_KERBEROS"}, "'properties.security.protocol' must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"},
		{append(sasl, "properties.sasl.mechanism", "GSSAPI"), "'properties.sasl.mechanism' must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"},
		{sasl, "needs 'properties.sasl.mechanism'"},
		{[]string{"properties.security.protocol", "SASL_SSL", "properties.sasl.mechanism", "PLAIN", "properties.sasl.password", secret}, "needs 'properties.sasl.username' and 'properties.sasl.password'"},
		{[]string{"properties.sasl.mechanism", "PLAIN", "properties.sasl.password", secret}, "'properties.sasl.mechanism' needs 'properties.security.protocol' = 'SASL_PLAINTEXT' or 'SASL_SSL'"},
		{[]string{"sasl.password", secret}, "'sasl.password' needs 'properties.security.protocol'"},
		{append(sasl, "properties.sasl.mechanism", "PLAIN", "properties.sasl.kerberos.service.name", "kafka"), "unsupported security option 'properties.sasl.kerberos.service.name'"},
		{[]string{"properties.ssl.truststore.location", "/x.jks", "properties.ssl.truststore.password", secret}, "unsupported security option 'properties.ssl.truststore.location', 'properties.ssl.truststore.password'"},
		{[]string{"properties.ssl.ca.location", notPEM}, "'properties.ssl.ca.location' needs 'properties.security.protocol' = 'SSL' or 'SASL_SSL'"},
		{[]string{"properties.security.protocol", "SSL", "properties.ssl.ca.location", notPEM}, "'properties.ssl.ca.location' \"" + notPEM + "\" holds no PEM certificate"},
		{[]string{"properties.security.protocol", "SSL", "properties.ssl.ca.location", filepath.Join(dir, "none.pem")}, "'properties.ssl.ca.location': open"},
		{[]string{"properties.security.protocol", "SSL", "properties.ssl.certificate.location", notPEM}, "needs both 'properties.ssl.certificate.location' and 'properties.ssl.key.location'"},
		{[]string{"properties.security.protocol", "SSL", "properties.ssl.certificate.location", notPEM, "properties.ssl.key.location", notPEM}, "are not a PEM certificate and its unencrypted private key"},
		{[]string{"properties.security.protocol", "SSL", "properties.ssl.endpoint.identification.algorithm", "dns"}, "'properties.ssl.endpoint.identification.algorithm' must be https or none"},
	} {
		o := opts(append([]string{"topic", "t", "brokers", "127.0.0.1:1"}, c.kv...)...)
		_, serr := parseSourceConfig(nil, o)
		_, kerr := parseSinkConfig(nil, o)
		for _, err := range []error{serr, kerr} {
			if !errors.Is(err, ErrOption) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%v: got %v, want %q", c.kv, err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("%v: error leaks the password: %v", c.kv, err)
			}
		}
	}
	// A JAAS line supplies the user and password the way Kafka's Java
	// clients take them.
	o := opts("topic", "t", "brokers", "127.0.0.1:1", "properties.security.protocol", "sasl_plaintext", "properties.sasl.mechanism", "scram-sha-256",
		"properties.sasl.jaas.config", `org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="a \"quoted\" pw";`)
	c, err := parseSourceConfig(nil, o)
	if err != nil || c.user != "alice" || c.sasl == nil || c.sasl.Name() != MechanismSCRAMSHA256 {
		t.Errorf("jaas: %+v, %v", c, err)
	}
}

// tlsFiles writes a CA, a server certificate for 127.0.0.1 and a client
// certificate, all PEM, and returns the server's tls.Config.
func tlsFiles(t *testing.T, dir string) *tls.Config {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	writePEM := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	caKey := newKey()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	writePEM("ca.pem", "CERTIFICATE", caDER)
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) tls.Certificate {
		k := newKey()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalECPrivateKey(k)
		writePEM(name+".pem", "CERTIFICATE", der)
		writePEM(name+".key", "EC PRIVATE KEY", kder)
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}
	}
	server := leaf("server", 2, x509.ExtKeyUsageServerAuth)
	leaf("client", 3, x509.ExtKeyUsageClientAuth)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &tls.Config{Certificates: []tls.Certificate{server}, ClientCAs: pool, ClientAuth: tls.VerifyClientCertIfGiven, MinVersion: tls.VersionTLS12}
}

// SASL with each mechanism, over plaintext and TLS, against a kfake
// cluster that requires it: the right password reads what was produced
// and writes through the sink; a wrong one fails naming the user and the
// mechanism, never the password.
func TestSASLAndTLSAgainstKfake(t *testing.T) {
	dir := t.TempDir()
	serverTLS := tlsFiles(t, dir)
	users := map[string]string{MechanismPlain: "alice", MechanismSCRAMSHA256: "bob", MechanismSCRAMSHA512: "carol"}
	sasl := []kfake.Opt{kfake.EnableSASL()}
	for m, u := range users {
		sasl = append(sasl, kfake.Superuser(m, u, secret+u))
	}
	_, plainAddr := newCluster(t, map[string]int32{"in": 1, "out": 1}, sasl...)
	_, tlsAddr := newCluster(t, map[string]int32{"in": 1, "out": 1}, append(sasl, kfake.TLS(serverTLS))...)
	mtls := serverTLS.Clone()
	mtls.ClientAuth = tls.RequireAndVerifyClientCert
	_, mtlsAddr := newCluster(t, map[string]int32{"in": 1, "out": 1}, append(sasl, kfake.TLS(mtls))...)
	clientCert, err := tls.LoadX509KeyPair(filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key"))
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{plainAddr, tlsAddr, mtlsAddr} {
		// The superuser SCRAM mechanism of the test's own producer.
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.SASL(scram.Auth{User: "bob", Pass: secret + "bob"}.AsSha256Mechanism()),
			kgo.DialTLSConfig(&tls.Config{RootCAs: serverTLS.ClientCAs, Certificates: []tls.Certificate{clientCert}}))
		if addr == plainAddr {
			cl, err = kgo.NewClient(kgo.SeedBrokers(addr), kgo.SASL(scram.Auth{User: "bob", Pass: secret + "bob"}.AsSha256Mechanism()))
		}
		if err != nil {
			t.Fatal(err)
		}
		produceTo(t, cl, rec("in", 0, "one"), rec("in", 0, "two"))
		cl.Close()
	}
	ca := filepath.Join(dir, "ca.pem")
	for _, c := range []struct {
		name, addr string
		kv         []string
	}{
		{"SASL_PLAINTEXT", plainAddr, []string{"properties.security.protocol", "SASL_PLAINTEXT"}},
		{"SASL_SSL", tlsAddr, []string{"properties.security.protocol", "SASL_SSL", "properties.ssl.ca.location", ca}},
		{"SASL_SSL+client cert", mtlsAddr, []string{"properties.security.protocol", "SASL_SSL", "properties.ssl.ca.location", ca,
			"properties.ssl.certificate.location", filepath.Join(dir, "client.pem"), "properties.ssl.key.location", filepath.Join(dir, "client.key")}},
	} {
		for m, u := range users {
			t.Run(c.name+"/"+m, func(t *testing.T) {
				mem := checkedMem(t)
				base := append([]string{"brokers", c.addr, "format", "raw", "connect.timeout", "5s",
					"properties.sasl.mechanism", m, "properties.sasl.username", u}, c.kv...)
				r := openSource(t, mem, opts(append(base, "topic", "in", "properties.sasl.password", secret+u)...), nil, exec.ScanSpec{Bounded: true})
				if got := readAll(t, r); !equal(got, []string{"one", "two"}) {
					t.Errorf("read %v", got)
				}
				sink, err := connectors.NewSink(connectors.Env{}, opts(append(base, "topic", "out", "format", "json", "properties.sasl.password", secret+u)...))
				if err != nil {
					t.Fatal(err)
				}
				writeOne(t, sink, t.Name())
				r = openSource(t, mem, opts(append(base, "topic", "out", "properties.sasl.password", secret+u)...), nil, exec.ScanSpec{Bounded: true})
				if got := readAll(t, r); !slices.Contains(got, `{"v":"`+t.Name()+`"}`) {
					t.Errorf("the sink's record is not in %v", got)
				}

				if c.name == "SASL_SSL+client cert" {
					return // wrong passwords: once per mechanism, with and without TLS
				}
				// A wrong password: a clear error, without the password.
				wrong := "wrong-" + secret
				src, err := NewSource(opts(append(base, "topic", "in", "properties.sasl.password", wrong)...), nil)
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				_, err = src.Open(ctx, mem, exec.ScanSpec{Bounded: true})
				if err == nil {
					t.Fatal("a wrong password connected")
				}
				msg := err.Error()
				if strings.Contains(msg, secret) || !strings.Contains(msg, "SASL "+m+" authentication as user \""+u+"\" failed") {
					t.Errorf("wrong password: %v", err)
				}
			})
		}
	}
	// The certificate names 127.0.0.1, not localhost: host name checks
	// refuse it, and 'none' still verifies the chain but not the name.
	localhost := strings.Replace(tlsAddr, "127.0.0.1", "localhost", 1)
	byName := []string{"brokers", localhost, "topic", "in", "format", "raw", "properties.security.protocol", "SASL_SSL", "properties.ssl.ca.location", ca,
		"properties.sasl.mechanism", "PLAIN", "properties.sasl.username", "alice", "properties.sasl.password", secret + "alice"}
	r := openSource(t, checkedMem(t), opts(append(byName, "properties.ssl.endpoint.identification.algorithm", "none")...), nil, exec.ScanSpec{Bounded: true})
	if got := readAll(t, r); !equal(got, []string{"one", "two"}) {
		t.Errorf("without host name checks: read %v", got)
	}
	// Without the CA the broker's certificate is not trusted; TLS to a
	// plaintext listener says so; no SASL against a SASL cluster fails.
	mem := checkedMem(t)
	for _, c := range []struct {
		kv   []string
		want string
	}{
		{[]string{"brokers", tlsAddr, "properties.security.protocol", "SASL_SSL", "properties.sasl.mechanism", "PLAIN", "properties.sasl.username", "alice", "properties.sasl.password", secret + "alice"}, "not trusted"},
		{[]string{"brokers", plainAddr, "properties.security.protocol", "SSL", "properties.ssl.ca.location", ca}, "over SSL"},
		{[]string{"brokers", plainAddr}, "cannot reach brokers"},
		{byName, "not trusted"}, // the host name does not match
		{append(byName[:len(byName):len(byName)], "properties.ssl.endpoint.identification.algorithm", "none", "properties.ssl.ca.location", filepath.Join(dir, "client.pem")), "not trusted"}, // the chain is still checked
		{[]string{"brokers", mtlsAddr, "properties.security.protocol", "SSL", "properties.ssl.ca.location", ca}, "cannot reach brokers"},                                                      // no client certificate
	} {
		src, err := NewSource(opts(append(c.kv, "topic", "in", "format", "raw", "connect.timeout", "2s")...), nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, err = src.Open(ctx, mem, exec.ScanSpec{Bounded: true})
		cancel()
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), secret) {
			t.Errorf("%v: got %v, want %q", c.kv, err, c.want)
		}
	}
}

func writeOne(t *testing.T, sink exec.Sink, v string) {
	t.Helper()
	mem := checkedMem(t)
	schema := arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.BinaryTypes.String}}, nil)
	rec, _, err := array.RecordFromJSON(mem, schema, strings.NewReader(`[{"v":"`+v+`"}]`))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w, err := sink.Open(ctx, mem, schema, exec.SinkMode{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Write(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, nil); err != nil {
		t.Fatal(err)
	}
}

// TLS files are read only inside the session's sandbox.
func TestTLSFilesInSandbox(t *testing.T) {
	tmp := t.TempDir()
	in := filepath.Join(tmp, "data")
	if err := os.Mkdir(in, 0o755); err != nil {
		t.Fatal(err)
	}
	tlsFiles(t, tmp) // ca.pem outside data/
	sb, err := sandbox.New(in)
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(tmp, "ca.pem")
	o := opts("topic", "t", "brokers", "127.0.0.1:1", "properties.security.protocol", "SSL", "properties.ssl.ca.location", ca)
	for _, open := range []func() error{
		func() error { _, err := connectors.NewSource(connectors.Env{Files: sb}, o, nil); return err },
		func() error { _, err := connectors.NewSink(connectors.Env{Files: sb}, o); return err },
	} {
		err := open()
		if !errors.Is(err, sandbox.ErrOutside) || !strings.Contains(err.Error(), `properties.ssl.ca.location "`+ca+`" is outside the sandbox`) {
			t.Errorf("got %v", err)
		}
	}
	if _, err := parseSourceConfig(nil, o); err != nil {
		t.Errorf("without a sandbox: %v", err)
	}
}
