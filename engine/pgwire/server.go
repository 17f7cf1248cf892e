// Package pgwire serves a sluice engine.Session over the PostgreSQL wire
// protocol (version 3, through pgx's pgproto3), so psql, pgx and other
// Postgres drivers query sluice: `sluice serve` runs it. It lives under
// engine/ because it is a front end of one shared engine.Session, as the
// root package's Go API is: every connection sees the same catalog of
// sources and sinks.
//
// What it speaks: the simple query protocol (several statements per
// message) and the extended one (Parse/Bind/Describe/Execute/Sync, $n
// parameters written into the statement as literals), results with
// PostgreSQL type OIDs in text or binary format, DDL and INSERT. A
// streaming query (EMIT …) sends its rows as they come, the changelog op
// as a text column (as Materialize's SUBSCRIBE does), until its input
// ends or the client stops it: a CancelRequest, or closing the
// connection, stops the query and frees its state. A failing statement
// answers with an ErrorResponse carrying a SQLSTATE and the position in
// the client's text, and the session goes on.
//
// Authentication is SCRAM-SHA-256 when a password is configured, and TLS
// when a certificate is; with no password the server only listens on a
// loopback address (CheckListen).
package pgwire

import (
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/engine/monitor"
)

// Config configures a Server. The zero value serves without
// authentication (allowed on loopback addresses only, see CheckListen).
type Config struct {
	// User, when set, is the only user name accepted.
	User string
	// Password, when set, is required from every client through
	// SCRAM-SHA-256.
	Password string
	// TLS, when set, is offered to clients that ask for it (sslmode
	// prefer/require), and required from every client.
	TLS *tls.Config
	// Queries, when set, lists the statements running on the server's
	// sessions, for /metrics and the live page.
	Queries *monitor.Registry
	// Log receives connection errors; nil means os.Stderr.
	Log io.Writer
}

// CheckListen refuses to serve without a password on an address other
// than loopback: anyone who can reach the port could otherwise read every
// file the server may read.
func CheckListen(addr string, cfg Config) error {
	if cfg.Password != "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--pg %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--pg %s: without a password the server only listens on localhost (127.0.0.1 or ::1); set a password (SLUICE_PASSWORD) to listen on %q", addr, host)
}

// Server serves one engine.Session to many Postgres clients at once.
type Server struct {
	db    *engine.Session
	cfg   Config
	scram *scramVerifier

	mu      sync.Mutex
	conns   map[uint32]*conn // by process ID, for CancelRequest
	lns     []net.Listener
	nextPID uint32
	closed  bool
	wg      sync.WaitGroup
}

// New returns a server over db.
func New(db *engine.Session, cfg Config) (*Server, error) {
	s := &Server{db: db, cfg: cfg, conns: map[uint32]*conn{}}
	if err := registerCatalog(db); err != nil {
		return nil, fmt.Errorf("pgwire: %w", err)
	}
	if cfg.Password != "" {
		v, err := newScramVerifier(cfg.Password)
		if err != nil {
			return nil, fmt.Errorf("pgwire: %w", err)
		}
		s.scram = v
	}
	if s.cfg.Log == nil {
		s.cfg.Log = os.Stderr
	}
	return s, nil
}

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("pgwire: server closed")

// Serve accepts connections on ln until Close, each on its own
// goroutine.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(nc)
		}()
	}
}

// Close stops accepting, ends every connection (stopping their queries)
// and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for _, ln := range s.lns {
		ln.Close()
	}
	for _, c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// Sessions is the number of connected, authenticated sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// handle runs one connection: startup (TLS, cancel requests,
// authentication), then the session.
func (s *Server) handle(nc net.Conn) {
	defer nc.Close()
	be := pgproto3.NewBackend(nc, nc)
	var startup *pgproto3.StartupMessage
	tlsDone := false
	for startup == nil {
		msg, err := be.ReceiveStartupMessage()
		if err != nil {
			return
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest:
			if s.cfg.TLS == nil || tlsDone {
				if _, err := nc.Write([]byte{'N'}); err != nil {
					return
				}
				continue
			}
			if _, err := nc.Write([]byte{'S'}); err != nil {
				return
			}
			tc := tls.Server(nc, s.cfg.TLS)
			if err := tc.Handshake(); err != nil {
				fmt.Fprintf(s.cfg.Log, "sluice serve: TLS handshake with %s: %v\n", nc.RemoteAddr(), err)
				return
			}
			nc, tlsDone = tc, true
			defer tc.Close()
			be = pgproto3.NewBackend(nc, nc)
		case *pgproto3.GSSEncRequest:
			if _, err := nc.Write([]byte{'N'}); err != nil {
				return
			}
		case *pgproto3.CancelRequest:
			s.cancel(m.ProcessID, m.SecretKey)
			return
		case *pgproto3.StartupMessage:
			startup = m
		default:
			return
		}
	}
	fatal := func(code, msg string) {
		be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: msg})
		be.Flush()
	}
	if s.cfg.TLS != nil && !tlsDone {
		fatal("28000", "this server requires TLS (sslmode=require)")
		return
	}
	user := startup.Parameters["user"]
	if s.cfg.User != "" && user != s.cfg.User {
		fatal("28P01", fmt.Sprintf("password authentication failed for user %q", user))
		return
	}
	if s.scram != nil {
		if err := s.authenticate(be); err != nil {
			fatal("28P01", fmt.Sprintf("password authentication failed for user %q", user))
			return
		}
	}
	c := s.register(nc, be, user)
	if c == nil {
		fatal("57P01", "the server is shutting down")
		return
	}
	defer s.unregister(c)
	c.serve(startup.Parameters)
}

// authenticate runs the SCRAM-SHA-256 exchange.
func (s *Server) authenticate(be *pgproto3.Backend) error {
	be.Send(&pgproto3.AuthenticationSASL{AuthMechanisms: []string{"SCRAM-SHA-256"}})
	if err := be.Flush(); err != nil {
		return err
	}
	if err := be.SetAuthType(pgproto3.AuthTypeSASL); err != nil {
		return err
	}
	msg, err := be.Receive()
	if err != nil {
		return err
	}
	init, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok || init.AuthMechanism != "SCRAM-SHA-256" {
		return errBadPassword
	}
	x := &scramExchange{v: s.scram}
	first, err := x.first(init.Data)
	if err != nil {
		return err
	}
	be.Send(&pgproto3.AuthenticationSASLContinue{Data: []byte(first)})
	if err := be.Flush(); err != nil {
		return err
	}
	if err := be.SetAuthType(pgproto3.AuthTypeSASLContinue); err != nil {
		return err
	}
	msg, err = be.Receive()
	if err != nil {
		return err
	}
	resp, ok := msg.(*pgproto3.SASLResponse)
	if !ok {
		return errBadPassword
	}
	final, err := x.final(resp.Data)
	if err != nil {
		return err
	}
	be.Send(&pgproto3.AuthenticationSASLFinal{Data: []byte(final)})
	return nil
}

// register gives an authenticated connection its process ID and secret
// key; nil once the server is closing.
func (s *Server) register(nc net.Conn, be *pgproto3.Backend, user string) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.nextPID++
	c := &conn{s: s, nc: nc, be: be, user: user, pid: s.nextPID}
	if _, err := rand.Read(c.key[:]); err != nil {
		return nil
	}
	s.conns[c.pid] = c
	return c
}

func (s *Server) unregister(c *conn) {
	s.mu.Lock()
	delete(s.conns, c.pid)
	s.mu.Unlock()
}

// cancel handles a CancelRequest: the statement running on the session
// with that process ID and secret key stops. A wrong key is ignored, as
// PostgreSQL does, so one client cannot stop another's queries.
func (s *Server) cancel(pid uint32, key []byte) {
	s.mu.Lock()
	c := s.conns[pid]
	s.mu.Unlock()
	if c == nil || subtle.ConstantTimeCompare(key, c.key[:]) != 1 {
		return
	}
	c.cancelRunning()
}

// secretKey encodes the 4-byte key of protocol 3.0.
func secretKey(k [4]byte) []byte {
	return binary.BigEndian.AppendUint32(nil, binary.BigEndian.Uint32(k[:]))
}

// reader is the connection's receiving side: one goroutine reads
// messages and hands over copies, so the session sees a client that
// hangs up even while a streaming query has nothing to send.
type reader struct {
	in   chan any // a pgproto3.FrontendMessage (a private copy) or an error
	done chan struct{}
}

func startReader(be *pgproto3.Backend) *reader {
	r := &reader{in: make(chan any), done: make(chan struct{})}
	go func() {
		for {
			msg, err := be.Receive()
			var v any = err
			if err == nil {
				v = clone(msg)
			}
			select {
			case r.in <- v:
			case <-r.done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return r
}

func (r *reader) stop() { close(r.done) }

// clone copies a received message: pgproto3 reuses its message values
// and buffers on the next Receive.
func clone(msg pgproto3.FrontendMessage) any {
	switch m := msg.(type) {
	case *pgproto3.Query:
		c := *m
		return &c
	case *pgproto3.Parse:
		c := *m
		c.ParameterOIDs = append([]uint32(nil), m.ParameterOIDs...)
		return &c
	case *pgproto3.Bind:
		c := *m
		c.ParameterFormatCodes = append([]int16(nil), m.ParameterFormatCodes...)
		c.ResultFormatCodes = append([]int16(nil), m.ResultFormatCodes...)
		c.Parameters = make([][]byte, len(m.Parameters))
		for i, p := range m.Parameters {
			if p != nil {
				c.Parameters[i] = append([]byte{}, p...)
			}
		}
		return &c
	case *pgproto3.Describe:
		c := *m
		return &c
	case *pgproto3.Execute:
		c := *m
		return &c
	case *pgproto3.Close:
		c := *m
		return &c
	case *pgproto3.Sync:
		return &pgproto3.Sync{}
	case *pgproto3.Flush:
		return &pgproto3.Flush{}
	case *pgproto3.Terminate:
		return &pgproto3.Terminate{}
	}
	return unsupported{}
}

// unsupported stands for a message the server does not implement (COPY,
// function calls).
type unsupported struct{}

// errCanceled marks a statement stopped by a CancelRequest.
var errCanceled = errors.New("canceling statement due to user request")
