package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"image/png"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// served is a running `sluice serve` process.
type served struct {
	pg, http string
	dir      string
	cmd      *exec.Cmd
	mu       sync.Mutex
	stderr   bytes.Buffer
}

// startServe runs `sluice serve` (this test binary as sluice) in dir on
// free loopback ports and waits until it listens.
func startServe(t *testing.T, dir string, env []string, args ...string) *served {
	t.Helper()
	args = append([]string{"serve", "--pg", "127.0.0.1:0", "--http", "127.0.0.1:0"}, args...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "SLUICE_TEST_MAIN=1"), env...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &served{dir: dir, cmd: cmd}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.stderr.WriteString(line + "\n")
			if a, ok := strings.CutPrefix(line, "sluice serve: postgres on "); ok {
				s.pg = a
			}
			if a, ok := strings.CutPrefix(line, "sluice serve: http on "); ok {
				s.http = a
				close(ready)
			}
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("sluice serve exited with %v\n%s", err, s.log())
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Errorf("sluice serve did not stop on SIGTERM\n%s", s.log())
		}
	})
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatalf("sluice serve did not start:\n%s", s.log())
	}
	return s
}

func (s *served) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

func (s *served) hostPort() (string, string) {
	h, p, _ := net.SplitHostPort(s.pg)
	return h, p
}

// psql runs the real psql against the server.
func (s *served) psql(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	path, err := exec.LookPath("psql")
	if err != nil {
		t.Fatal("psql is not installed (Debian's postgresql-client; .ci/run installs it)")
	}
	host, port := s.hostPort()
	cmd := exec.Command(path, append([]string{"-X", "-h", host, "-p", port, "-U", "tester", "-d", "sluice"}, args...)...)
	cmd.Env = append(append(os.Environ(), "HOME="+s.dir, "PGCONNECT_TIMEOUT=10"), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

const serveInit = `CREATE SOURCE t (a BIGINT, b VARCHAR, ts TIMESTAMP, price DECIMAL(10,2)) WITH (connector = 'file', path = 't.csv', format = 'csv');
CREATE SOURCE g WITH (connector = 'generator', rows_per_second = '500', categories = '4', seed = '3');
`

func serveDir(t *testing.T) string {
	dir := t.TempDir()
	files := map[string]string{
		"t.csv":    "a,b,ts,price\n1,x,2026-01-01 00:00:01,1.50\n2,y,2026-01-01 00:00:02,\n3,,2026-01-02 10:00:00,-7.25\n",
		"init.sql": serveInit,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestServePsql drives `sluice serve` with the real psql: results,
// DDL, an error with its caret, and the session going on after it.
func TestServePsql(t *testing.T) {
	s := startServe(t, serveDir(t), nil, "-f", "init.sql")
	env := []string{"PGSSLMODE=disable"}
	out, errs, code := s.psql(t, env, "-At", "-c", "SELECT a, b, ts, price FROM t ORDER BY a")
	if code != 0 || out != "1|x|2026-01-01 00:00:01|1.50\n2|y|2026-01-01 00:00:02|\n3||2026-01-02 10:00:00|-7.25\n" {
		t.Fatalf("psql exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	// An aligned table as a person sees it.
	out, errs, code = s.psql(t, env, "-c", "SELECT b, SUM(a) AS total FROM t WHERE a < 3 GROUP BY b ORDER BY b")
	if code != 0 || !strings.Contains(out, " b | total \n") || !strings.Contains(out, " x |     1\n") || !strings.Contains(out, "(2 rows)") {
		t.Fatalf("psql exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	// One psql session (psql sends each statement on its own): DDL, a bad
	// statement, then a good one.
	script := "CREATE SOURCE t2 (a BIGINT, b VARCHAR, ts TIMESTAMP, price DECIMAL(10,2)) WITH (connector = 'file', path = 't.csv', format = 'csv');\n" +
		"SELECT a FROM t2 WHERE valu > 1;\n" +
		"SELECT COUNT(*) AS n FROM t2;\n"
	cmd := exec.Command("psql", "-X", "-At", "-h", strings.Split(s.pg, ":")[0], "-p", strings.Split(s.pg, ":")[1], "-U", "tester", "-d", "sluice")
	cmd.Env = append(os.Environ(), "HOME="+s.dir, "PGSSLMODE=disable")
	cmd.Stdin = strings.NewReader(script)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("psql: %v\n%s", err, e.String())
	}
	if o.String() != "CREATE SOURCE\n3\n" {
		t.Errorf("stdout %q", o.String())
	}
	for _, want := range []string{`ERROR:  unknown column "valu"`, "LINE 1: SELECT a FROM t2 WHERE valu > 1;", "^"} {
		if !strings.Contains(e.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, e.String())
		}
	}
	// The caret sits under "valu".
	lines := strings.Split(e.String(), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "LINE 1:") && i+1 < len(lines) {
			if col := strings.Index(lines[i+1], "^"); col != strings.Index(l, "valu") {
				t.Errorf("caret at %d, valu at %d:\n%s\n%s", col, strings.Index(l, "valu"), l, lines[i+1])
			}
		}
	}
	// -c with an error exits non-zero.
	_, errs, code = s.psql(t, env, "-c", "SELEC 1")
	if code == 0 || !strings.Contains(errs, "ERROR:") {
		t.Errorf("bad statement: exit %d, stderr %s", code, errs)
	}
}

// TestServeTLSPassword: with a password and a certificate, psql gets in
// over TLS with SCRAM-SHA-256 and is refused with a wrong password or
// without TLS.
func TestServeTLSPassword(t *testing.T) {
	dir := serveDir(t)
	writeCert(t, dir)
	s := startServe(t, dir, []string{"SLUICE_PASSWORD=hunter2"}, "-f", "init.sql", "--tls-cert", "cert.pem", "--tls-key", "key.pem")
	out, errs, code := s.psql(t, []string{"PGPASSWORD=hunter2", "PGSSLMODE=require"}, "-At", "-c", "SELECT COUNT(*) FROM t")
	if code != 0 || out != "3\n" {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	_, errs, code = s.psql(t, []string{"PGPASSWORD=wrong", "PGSSLMODE=require"}, "-At", "-c", "SELECT 1")
	if code == 0 || !strings.Contains(errs, "password authentication failed") {
		t.Errorf("wrong password: exit %d, %s", code, errs)
	}
	_, errs, code = s.psql(t, []string{"PGPASSWORD=hunter2", "PGSSLMODE=disable"}, "-At", "-c", "SELECT 1")
	if code == 0 || !strings.Contains(errs, "requires TLS") {
		t.Errorf("without TLS: exit %d, %s", code, errs)
	}
}

// TestServeRefusesOpenAddressWithoutPassword: no password, no listening
// beyond localhost.
func TestServeRefusesOpenAddressWithoutPassword(t *testing.T) {
	var stderr bytes.Buffer
	code := serve([]string{"--pg", "0.0.0.0:0"}, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "only listens on localhost") {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}

func writeCert(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
}

// scrape reads /metrics with Prometheus' text-format parser.
func (s *served) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + s.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// value is the metric's value for the series with label query_id = id
// ("" for a series without labels); ok is false when there is none.
func value(fams map[string]*dto.MetricFamily, name, id string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.Metric {
		got := ""
		for _, l := range m.Label {
			if l.GetName() == "query_id" {
				got = l.GetValue()
			}
		}
		if got != id {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		}
	}
	return 0, false
}

// TestServeStreamingCancelFreesState is the acceptance check: a pgx
// client streams a continuous aggregate's changelog, /metrics shows the
// query with rows flowing and state held; the client cancels and the
// query, its series and its state are gone.
func TestServeStreamingCancelFreesState(t *testing.T) {
	s := startServe(t, serveDir(t), nil, "-f", "init.sql")
	ctx := context.Background()
	host, port := s.hostPort()
	c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://tester@%s:%s/sluice?sslmode=disable", host, port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	const q = "SELECT category, COUNT(*) AS n, SUM(value) AS total FROM g GROUP BY category EMIT CHANGES"
	rr := c.PgConn().ExecParams(ctx, q, nil, nil, nil, nil)
	seen := 0
	for seen < 20 && rr.NextRow() {
		v := rr.Values()
		if op := string(v[0]); op != "+I" && op != "-U" && op != "+U" {
			t.Fatalf("op %q", op)
		}
		seen++
	}
	if seen < 20 {
		_, err := rr.Close()
		t.Fatalf("stream ended after %d rows: %v", seen, err)
	}
	var id string
	deadline := time.Now().Add(20 * time.Second)
	for {
		fams := s.scrape(t)
		if f := fams["sluice_query_info"]; f != nil && len(f.Metric) == 1 {
			for _, l := range f.Metric[0].Label {
				if l.GetName() == "query_id" {
					id = l.GetValue()
				}
			}
		}
		in, _ := value(fams, "sluice_query_rows_in_total", id)
		groups, _ := value(fams, "sluice_query_state_groups", id)
		held, _ := value(fams, "sluice_state_bytes_in_use", "")
		if id != "" && in > 0 && groups == 4 && held > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never showed the running query (id %q, rows in %v, groups %v, state bytes %v)", id, in, groups, held)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := c.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	for rr.NextRow() {
	}
	_, err = rr.Close()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "57014" {
		t.Fatalf("after cancel: %v", err)
	}
	for {
		fams := s.scrape(t)
		running, _ := value(fams, "sluice_running_queries", "")
		held, _ := value(fams, "sluice_state_bytes_in_use", "")
		_, listed := value(fams, "sluice_query_rows_in_total", id)
		if running == 0 && held == 0 && !listed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after cancel: %v running, %v state bytes in use, series listed %v", running, held, listed)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The session goes on.
	var n int64
	if err := c.QueryRow(ctx, "SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != 3 {
		t.Fatalf("after cancel: %d, %v", n, err)
	}
}

// chromium runs headless Chromium on url with a few seconds of virtual
// time (the page polls every second), printing the DOM or writing a
// screenshot.
func chromium(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed (Debian's chromium; .ci/run installs it)")
	}
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
		"--user-data-dir=" + filepath.Join(dir, "chromium"), "--window-size=1000,600", "--virtual-time-budget=8000"}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, append(base, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, errb.String())
	}
	return out.Bytes()
}

// TestServeLivePage opens the live page in headless Chromium while a
// streaming query runs: the DOM lists the query's text with a stop
// button, and the screenshot shows the throughput and state charts
// drawn (their line colours). Then the stop endpoint the button calls
// ends the query for its client.
func TestServeLivePage(t *testing.T) {
	s := startServe(t, serveDir(t), nil, "-f", "init.sql")
	ctx := context.Background()
	host, port := s.hostPort()
	c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://tester@%s:%s/sluice?sslmode=disable", host, port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	const q = "SELECT category, COUNT(*) AS n FROM g GROUP BY category EMIT CHANGES"
	rr := c.PgConn().ExecParams(ctx, q, nil, nil, nil, nil)
	if !rr.NextRow() {
		_, err := rr.Close()
		t.Fatalf("no rows: %v", err)
	}
	// Keep reading so the query runs at its pace while the page watches.
	ended := make(chan error, 1)
	go func() {
		for rr.NextRow() {
		}
		_, err := rr.Close()
		ended <- err
	}()
	url := "http://" + s.http + "/"
	dom := string(chromium(t, s.dir, "--dump-dom", url))
	for _, want := range []string{q, `class="stop"`, "<canvas", "throughput (rows/s in)", "state size (bytes)"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page lacks %q:\n%s", want, dom)
		}
	}
	shot := filepath.Join(s.dir, "page.png")
	chromium(t, s.dir, "--screenshot="+shot, url)
	if d := os.Getenv("SLUICE_KEEP_SHOT"); d != "" {
		b, _ := os.ReadFile(shot)
		os.WriteFile(d, b, 0o644)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	// Count pixels of each chart's line colour.
	colours := map[string][3]uint8{"throughput": {0x1f, 0x77, 0xb4}, "state": {0x2c, 0xa0, 0x2c}}
	for name, want := range colours {
		n := 0
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				if near(r>>8, want[0]) && near(g>>8, want[1]) && near(bl>>8, want[2]) {
					n++
				}
			}
		}
		if n < 30 {
			t.Errorf("the %s chart has %d pixels of its line colour, want a drawn line (≥ 30); screenshot %s", name, n, shot)
		}
	}
	// The stop button's request.
	resp, err := http.Post("http://"+s.http+"/api/queries/999/stop", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("stopping an unknown query: %s", resp.Status)
	}
	id := ""
	if f := s.scrape(t)["sluice_query_info"]; f != nil && len(f.Metric) == 1 {
		for _, l := range f.Metric[0].Label {
			if l.GetName() == "query_id" {
				id = l.GetValue()
			}
		}
	}
	resp, err = http.Post("http://"+s.http+"/api/queries/"+id+"/stop", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("stop query %q: %s", id, resp.Status)
	}
	select {
	case err := <-ended:
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "57014" {
			t.Fatalf("the client saw %v, want SQLSTATE 57014", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the stopped query's client is still reading")
	}
}

func near(a uint32, b uint8) bool { return a+6 >= uint32(b) && a <= uint32(b)+6 }

// TestServeKafkaMetrics: a streaming query over a Kafka topic (kfake)
// reports, through /metrics, the exact bytes it read, a lag series per
// partition (zero once caught up), its watermark and the checkpoints it
// writes; records produced later show up in the counters.
func TestServeKafkaMetrics(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	addr := strings.Join(cluster.ListenAddrs(), ",")
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var produced int64
	produce := func(from, n int) {
		var recs []*kgo.Record
		for i := from; i < from+n; i++ {
			v := fmt.Sprintf(`{"category":"c%d","value":%d,"ts":"2026-01-01 00:00:%02d"}`, i%3, i, i)
			produced += int64(len(v))
			recs = append(recs, &kgo.Record{Topic: "orders", Partition: int32(i % 2), Value: []byte(v)})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(0, 40)
	dir := serveDir(t)
	init := fmt.Sprintf(`CREATE SOURCE orders (category VARCHAR, value BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH (connector = 'kafka', topic = 'orders', brokers = '%s', format = 'json', 'scan.startup.mode' = 'earliest');`, addr)
	if err := os.WriteFile(filepath.Join(dir, "kafka.sql"), []byte(init), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, dir, nil, "-f", "kafka.sql", "--checkpoint-dir", "ck")
	ctx := context.Background()
	host, port := s.hostPort()
	c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://tester@%s:%s/sluice?sslmode=disable", host, port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	const q = "SELECT window_start, category, SUM(value) AS total FROM TUMBLE(orders, ts, INTERVAL '10' SECOND) GROUP BY window_start, category EMIT CHANGES"
	rr := c.PgConn().ExecParams(ctx, q, nil, nil, nil, nil)
	if !rr.NextRow() {
		_, err := rr.Close()
		t.Fatalf("no rows: %v", err)
	}
	reading := make(chan struct{})
	go func() {
		defer close(reading)
		for rr.NextRow() {
		}
		rr.Close()
	}()
	// The reader stops before the connection closes.
	defer func() {
		c.PgConn().CancelRequest(ctx)
		<-reading
	}()
	wait := func(what string, ok func(fams map[string]*dto.MetricFamily, id string) bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			fams := s.scrape(t)
			id := ""
			if f := fams["sluice_query_info"]; f != nil && len(f.Metric) == 1 {
				for _, l := range f.Metric[0].Label {
					if l.GetName() == "query_id" {
						id = l.GetValue()
					}
				}
			}
			if id != "" && ok(fams, id) {
				return
			}
			if time.Now().After(deadline) {
				var b strings.Builder
				for name, f := range fams {
					if strings.HasPrefix(name, "sluice_") {
						fmt.Fprintf(&b, "%s %v\n", name, f.Metric)
					}
				}
				t.Fatalf("metrics never showed %s:\n%s", what, b.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	lagOf := func(fams map[string]*dto.MetricFamily, id string) map[string]float64 {
		out := map[string]float64{}
		if f := fams["sluice_kafka_consumer_lag"]; f != nil {
			for _, m := range f.Metric {
				labels := map[string]string{}
				for _, l := range m.Label {
					labels[l.GetName()] = l.GetValue()
				}
				if labels["query_id"] == id && labels["topic"] == "orders" {
					out[labels["partition"]] = m.Gauge.GetValue()
				}
			}
		}
		return out
	}
	check := func(want int64) func(map[string]*dto.MetricFamily, string) bool {
		return func(fams map[string]*dto.MetricFamily, id string) bool {
			read, _ := value(fams, "sluice_query_bytes_read_total", id)
			lag := lagOf(fams, id)
			ck, _ := value(fams, "sluice_query_checkpoints_total", id)
			ckBytes, _ := value(fams, "sluice_query_last_checkpoint_bytes", id)
			return read == float64(want) && len(lag) == 2 && lag["0"] == 0 && lag["1"] == 0 && ck >= 1 && ckBytes > 0
		}
	}
	wait(fmt.Sprintf("%d bytes read, both partitions caught up and a checkpoint", produced), check(produced))
	// The watermark is the minimum over the partitions of their largest
	// ts less the 1 s delay: partition 0 holds the even seconds (38).
	wait("the watermark", func(fams map[string]*dto.MetricFamily, id string) bool {
		wm, _ := value(fams, "sluice_query_watermark_seconds", id)
		lag, _ := value(fams, "sluice_query_watermark_lag_seconds", id)
		want := float64(time.Date(2026, 1, 1, 0, 0, 37, 0, time.UTC).Unix())
		return wm == want && lag > 0
	})
	produce(40, 10)
	wait(fmt.Sprintf("%d bytes read after producing more", produced), check(produced))
}

// TestServeJobMetrics: a streaming INSERT in the start-up script runs as
// a background job, listed in /metrics with its progress, and stopped by
// the stop endpoint.
func TestServeJobMetrics(t *testing.T) {
	dir := serveDir(t)
	job := `CREATE SOURCE o (category VARCHAR, value BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH (connector = 'generator', rows_per_second = '1000', categories = '3', seed = '2');
CREATE SINK w WITH (connector = 'file', path = 'out/', format = 'csv')
  AS SELECT window_start, category, SUM(value) AS total FROM TUMBLE(o, ts, INTERVAL '1' SECOND) GROUP BY window_start, category EMIT FINAL;
`
	if err := os.WriteFile(filepath.Join(dir, "job.sql"), []byte(job), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, dir, nil, "-f", "job.sql")
	deadline := time.Now().Add(30 * time.Second)
	var id string
	for {
		fams := s.scrape(t)
		if f := fams["sluice_query_info"]; f != nil && len(f.Metric) == 1 {
			for _, l := range f.Metric[0].Label {
				if l.GetName() == "query_id" {
					id = l.GetValue()
				}
			}
		}
		in, _ := value(fams, "sluice_query_rows_in_total", id)
		out, _ := value(fams, "sluice_query_rows_out_total", id)
		wm, _ := value(fams, "sluice_query_watermark_seconds", id)
		if id != "" && in > 0 && out > 0 && wm >= float64(time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC).Unix()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job's progress never showed: id %q, rows in %v, out %v, watermark %v\n%s", id, in, out, wm, s.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, err := http.Post("http://"+s.http+"/api/queries/"+id+"/stop", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("stop: %s", resp.Status)
	}
	for {
		if running, _ := value(s.scrape(t), "sluice_running_queries", ""); running == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stopped job is still listed")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// What the job committed before it stopped is in the sink.
	files, _ := filepath.Glob(filepath.Join(dir, "out", "*.csv"))
	if len(files) == 0 {
		t.Fatalf("no committed output files in out/: %s", s.log())
	}
}
