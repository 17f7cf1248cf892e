package pgwire

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
)

// serverVersion is what the server reports as server_version: drivers
// pick protocol features by it, and 14 has everything used here.
const serverVersion = "14.0 (sluice)"

// flushBytes is how much DataRow output is buffered before it is sent.
const flushBytes = 64 << 10

// conn is one client session.
type conn struct {
	s    *Server
	nc   net.Conn
	be   *pgproto3.Backend
	user string
	// params are the startup parameters (database, application_name).
	params map[string]string
	pid    uint32
	key    [4]byte

	r       *reader
	pending []any // messages that arrived while a statement ran
	gone    bool  // the client hung up or sent Terminate

	mu  sync.Mutex
	cur *stopper // the running statement's

	stmts      map[string]*prepared
	portals    map[string]*portal
	skipToSync bool // extended protocol: an error discards until Sync
	unflushed  int
}

// prepared is a statement of the extended protocol (Parse).
type prepared struct {
	text  string
	oids  []uint32 // one per parameter
	kind  statementKind
	cols  []column // nil until described, or for statements without rows
	descr bool
}

// portal is a bound statement (Bind), run by Execute.
type portal struct {
	stmt    *prepared
	b       bound
	formats []int16
	run     *running // started by Describe or the first Execute
}

// statementKind says whether a statement returns rows.
type statementKind int

const (
	noRows statementKind = iota
	hasRows
)

func kindOf(st engine.Statement) statementKind {
	switch st.(type) {
	case *sql.Query, *sql.Show, *sql.Describe, *sql.Explain:
		return hasRows
	}
	return noRows
}

func (c *conn) serve(params map[string]string) {
	c.params = params
	be := c.be
	be.Send(&pgproto3.AuthenticationOk{})
	for _, p := range [][2]string{
		{"server_version", serverVersion},
		{"server_encoding", "UTF8"},
		{"client_encoding", "UTF8"},
		{"DateStyle", "ISO, MDY"},
		{"IntervalStyle", "postgres"},
		{"TimeZone", "UTC"},
		{"integer_datetimes", "on"},
		{"standard_conforming_strings", "on"},
		{"application_name", params["application_name"]},
	} {
		be.Send(&pgproto3.ParameterStatus{Name: p[0], Value: p[1]})
	}
	be.Send(&pgproto3.BackendKeyData{ProcessID: c.pid, SecretKey: secretKey(c.key)})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if be.Flush() != nil {
		return
	}
	c.stmts = map[string]*prepared{}
	c.portals = map[string]*portal{}
	c.r = startReader(be)
	defer c.r.stop()
	defer c.closePortals()
	for {
		v := c.next()
		if v == nil {
			return
		}
		if c.skipToSync {
			if _, ok := v.(*pgproto3.Sync); !ok {
				continue
			}
		}
		switch m := v.(type) {
		case *pgproto3.Query:
			c.simpleQuery(m.String)
			c.ready()
		case *pgproto3.Parse:
			c.parse(m)
		case *pgproto3.Bind:
			c.bind(m)
		case *pgproto3.Describe:
			c.describe(m)
		case *pgproto3.Execute:
			c.execute(m)
		case *pgproto3.Close:
			c.closeObject(m)
		case *pgproto3.Sync:
			c.skipToSync = false
			c.closePortals()
			c.ready()
		case *pgproto3.Flush:
			c.flush()
		case unsupported:
			c.fail(&pgError{code: "0A000", msg: "this message type is not supported (COPY and function calls are not)"})
			c.ready()
		}
		if c.gone {
			return
		}
	}
}

// next returns the next message to handle, nil once the client is
// gone. Messages that arrived while a statement ran come first.
func (c *conn) next() any {
	var v any
	switch {
	case len(c.pending) > 0:
		v = c.pending[0]
		c.pending = c.pending[1:]
		return v
	case c.gone:
		return nil
	}
	c.watch(<-c.r.in)
	if c.gone {
		return nil
	}
	v = c.pending[0]
	c.pending = c.pending[1:]
	return v
}

// incoming is the reader's channel, or nil (never ready) once the client
// is gone.
func (c *conn) incoming() chan any {
	if c.gone {
		return nil
	}
	return c.r.in
}

// watch handles a value received while a statement runs: a hang-up
// stops the statement, a message waits its turn.
func (c *conn) watch(v any) {
	switch v.(type) {
	case error, *pgproto3.Terminate:
		c.gone = true
		c.cancelRunning()
		return
	}
	c.pending = append(c.pending, v)
}

func (c *conn) ready() {
	c.be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	c.flush()
}

func (c *conn) flush() {
	c.unflushed = 0
	if err := c.be.Flush(); err != nil {
		c.gone = true
		c.cancelRunning()
	}
}

// stopper is one statement's cancellation, and whether it came from
// outside the statement (CancelRequest, hang-up, the live page's stop
// button) rather than from its own end.
type stopper struct {
	cancel  context.CancelFunc
	stopped atomic.Bool
}

func (sp *stopper) stop() {
	sp.stopped.Store(true)
	sp.cancel()
}

// begin gives a statement its context, which a CancelRequest cancels.
func (c *conn) begin() (context.Context, *stopper) {
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), clientKey{}, c))
	sp := &stopper{cancel: cancel}
	c.mu.Lock()
	c.cur = sp
	c.mu.Unlock()
	return ctx, sp
}

// cancelRunning stops the running statement (CancelRequest, hang-up).
func (c *conn) cancelRunning() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil {
		c.cur.stop()
	}
}

// simpleQuery runs every statement of a Query message in order, up to
// the first error.
func (c *conn) simpleQuery(text string) {
	stmts, err := c.parseSQL(text)
	if err != nil {
		c.fail(toPGError(err, text, bound{text: text}))
		return
	}
	if len(stmts) == 0 {
		c.be.Send(&pgproto3.EmptyQueryResponse{})
		return
	}
	for _, st := range stmts {
		run, err := c.start(st, st.SQL())
		if err == nil && run.rows.Schema() != nil {
			c.be.Send(describe(run.cols, nil))
		}
		if err == nil {
			_, err = c.send(run, nil, 0)
		}
		if err != nil {
			c.fail(toPGError(err, text, bound{text: text}))
			return
		}
		if c.gone {
			return
		}
	}
}

// running is a started statement whose rows are being sent.
type running struct {
	st     engine.Statement
	rows   *engine.Rows
	cols   []column
	recs   chan arrow.Record
	ctx    context.Context
	sp     *stopper
	remove func()
	cur    arrow.Record
	idx    int
	n      int64 // rows sent
	done   bool
	err    error
}

// start runs st (its text is what the live view shows). Statements
// without rows have run to their end when it returns; a query has
// started and its rows are read as they are sent.
func (c *conn) start(st engine.Statement, text string) (*running, error) {
	ctx, sp := c.begin()
	cancel := sp.cancel
	var rowsp atomic.Pointer[engine.Rows]
	var jobStats atomic.Pointer[func() engine.Stats] // a streaming INSERT's
	ctx = engine.WithProgress(ctx, func(f func() engine.Stats) { jobStats.Store(&f) })
	remove := func() {}
	if q := c.s.cfg.Queries; q != nil {
		_, remove = q.Add(strings.TrimSpace(text), fmt.Sprintf("pg session %d (%s)", c.pid, c.user), func() engine.Stats {
			if r := rowsp.Load(); r != nil {
				return r.Stats()
			}
			if f := jobStats.Load(); f != nil {
				return (*f)()
			}
			return engine.Stats{}
		}, sp.stop)
	}
	type result struct {
		rows *engine.Rows
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		rows, err := c.s.db.Run(ctx, st)
		ch <- result{rows, err}
	}()
	var res result
wait:
	for {
		select {
		case res = <-ch:
			break wait
		case v := <-c.incoming():
			c.watch(v)
		}
	}
	if res.err == nil && sp.stopped.Load() && res.rows.Schema() == nil {
		// A streaming INSERT ends quietly when stopped; the client asked
		// for it to stop, so say so.
		res.err = errCanceled
	}
	if res.err != nil {
		if res.rows != nil {
			res.rows.Close()
		}
		cancel()
		remove()
		c.endStatement()
		if sp.stopped.Load() && errors.Is(res.err, context.Canceled) {
			return nil, errCanceled
		}
		return nil, res.err
	}
	rowsp.Store(res.rows)
	run := &running{st: st, rows: res.rows, ctx: ctx, sp: sp, remove: remove}
	if s := res.rows.Schema(); s != nil {
		run.cols = columns(s)
		run.recs = make(chan arrow.Record)
		go func() {
			defer close(run.recs)
			for res.rows.Next() {
				rec := res.rows.Record()
				rec.Retain()
				select {
				case run.recs <- rec:
				case <-ctx.Done():
					rec.Release()
					return
				}
			}
		}()
	}
	return run, nil
}

func (c *conn) endStatement() {
	c.mu.Lock()
	c.cur = nil
	c.mu.Unlock()
}

// close stops the statement and frees what it holds.
func (r *running) close() error {
	if r.done && r.recs == nil {
		return r.err
	}
	r.sp.cancel()
	if r.recs != nil {
		for rec := range r.recs {
			rec.Release()
		}
		r.recs = nil
	}
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	err := r.rows.Err()
	if cerr := r.rows.Close(); err == nil {
		err = cerr
	}
	r.remove()
	r.done, r.err = true, err
	return err
}

// send writes run's rows as DataRows in formats, at most maxRows of them
// when maxRows > 0 (then suspended reports that more may follow), and
// the CommandComplete at the end.
func (c *conn) send(run *running, formats []int16, maxRows int32) (suspended bool, err error) {
	defer func() {
		if !suspended {
			if cerr := run.close(); err == nil {
				err = cerr
			}
			c.endStatement()
			if run.sp.stopped.Load() && (err != nil || !c.gone) {
				err = errCanceled
			}
			if err == nil {
				c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(commandTag(run))})
			}
		}
	}()
	if run.recs == nil {
		return false, nil
	}
	enc := newEncoder(run.cols, formats)
	var sent int32
	for {
		if run.cur == nil {
			var rec arrow.Record
			var ok bool
			select {
			case rec, ok = <-run.recs:
			default:
				// Nothing ready: send what is buffered before waiting, so a
				// streaming client sees each row as it is produced.
				c.flush()
			wait:
				for {
					select {
					case rec, ok = <-run.recs:
						break wait
					case v := <-c.incoming():
						c.watch(v)
					}
				}
			}
			if !ok {
				return false, nil
			}
			run.cur, run.idx = rec, 0
		}
		for ; run.idx < int(run.cur.NumRows()); run.idx++ {
			if maxRows > 0 && sent == maxRows {
				c.be.Send(&pgproto3.PortalSuspended{})
				return true, nil
			}
			dr, err := enc.row(run.cur, run.idx)
			if err != nil {
				return false, err
			}
			c.be.Send(dr)
			sent++
			run.n++
			for _, v := range dr.Values {
				c.unflushed += len(v) + 4
			}
			if c.unflushed > flushBytes {
				c.flush()
			}
			if c.gone {
				return false, nil
			}
		}
		run.cur.Release()
		run.cur = nil
	}
}

// commandTag is the CommandComplete tag PostgreSQL would send.
func commandTag(run *running) string {
	switch s := run.st.(type) {
	case *sql.CreateSource:
		return "CREATE SOURCE"
	case *sql.CreateSink:
		return "CREATE SINK"
	case *sql.Drop:
		return "DROP " + s.Kind
	case *sql.Set:
		return "SET"
	case *sql.Insert:
		// The engine reports "N rows written to sink".
		var n int64
		fmt.Sscanf(run.rows.Message, "%d rows written", &n)
		return fmt.Sprintf("INSERT 0 %d", n)
	}
	return fmt.Sprintf("SELECT %d", run.n)
}

// parse handles Parse: the statement is checked now (syntax errors are
// reported here, as PostgreSQL does) and run at Execute.
func (c *conn) parse(m *pgproto3.Parse) {
	_, max := placeholders(m.Query)
	// A parameter the client did not type stays unspecified (OID 0):
	// its value arrives as text and goes in as a quoted literal whose
	// type the query's context decides (see bind).
	oids := make([]uint32, max)
	for i := range oids {
		if i < len(m.ParameterOIDs) && m.ParameterOIDs[i] != 0 {
			oids[i] = m.ParameterOIDs[i]
		}
	}
	b, _ := bind(m.Query, make([][]byte, max))
	stmts, err := c.parseSQL(b.text)
	if err != nil {
		c.failExtended(toPGError(err, m.Query, b))
		return
	}
	if len(stmts) > 1 {
		c.failExtended(&pgError{code: "42601", msg: "cannot insert multiple commands into a prepared statement"})
		return
	}
	p := &prepared{text: m.Query, oids: oids}
	if len(stmts) == 1 {
		p.kind = kindOf(stmts[0])
	}
	c.stmts[m.Name] = p
	c.be.Send(&pgproto3.ParseComplete{})
}

// bind handles Bind: the parameters are written into the statement.
func (c *conn) bind(m *pgproto3.Bind) {
	p, ok := c.stmts[m.PreparedStatement]
	if !ok {
		c.failExtended(&pgError{code: "26000", msg: fmt.Sprintf("prepared statement %q does not exist", m.PreparedStatement)})
		return
	}
	if len(m.Parameters) != len(p.oids) {
		c.failExtended(&pgError{code: "08P01", msg: fmt.Sprintf("bind message supplies %d parameters, but prepared statement requires %d", len(m.Parameters), len(p.oids))})
		return
	}
	params := make([][]byte, len(m.Parameters))
	for i, v := range m.Parameters {
		txt, err := paramText(p.oids[i], formatOf(m.ParameterFormatCodes, i), v)
		if err != nil {
			c.failExtended(&pgError{code: "22P03", msg: fmt.Sprintf("parameter $%d: %v", i+1, err)})
			return
		}
		params[i] = txt
	}
	b, err := bind(p.text, params)
	if err != nil {
		c.failExtended(&pgError{code: "08P01", msg: err.Error()})
		return
	}
	if old := c.portals[m.DestinationPortal]; old != nil && old.run != nil {
		old.run.close()
		c.endStatement()
	}
	c.portals[m.DestinationPortal] = &portal{stmt: p, b: b, formats: m.ResultFormatCodes}
	c.be.Send(&pgproto3.BindComplete{})
}

// paramText is a parameter's text: as sent in text format, decoded by
// its type in binary format.
func paramText(oid uint32, format int16, v []byte) ([]byte, error) {
	if v == nil || format == pgtype.TextFormatCode || oid == pgtype.TextOID || oid == pgtype.VarcharOID {
		return v, nil
	}
	m := pgtype.NewMap()
	t, ok := m.TypeForOID(oid)
	if !ok {
		return nil, fmt.Errorf("binary format of type OID %d is not supported; send it as text", oid)
	}
	val, err := t.Codec.DecodeValue(m, oid, format, v)
	if err != nil {
		return nil, err
	}
	switch x := val.(type) {
	case time.Time:
		return []byte(x.UTC().Format("2006-01-02 15:04:05.999999")), nil
	case pgtype.Numeric:
		s, err := x.Value()
		if err != nil {
			return nil, err
		}
		return []byte(fmt.Sprint(s)), nil
	}
	return []byte(fmt.Sprint(val)), nil
}

// describe handles Describe of a statement or a portal.
func (c *conn) describe(m *pgproto3.Describe) {
	if m.ObjectType == 'S' {
		p, ok := c.stmts[m.Name]
		if !ok {
			c.failExtended(&pgError{code: "26000", msg: fmt.Sprintf("prepared statement %q does not exist", m.Name)})
			return
		}
		c.be.Send(&pgproto3.ParameterDescription{ParameterOIDs: p.oids})
		if p.kind == noRows {
			c.be.Send(&pgproto3.NoData{})
			return
		}
		if !p.descr {
			// The result's columns are known once the query has started;
			// it is started with NULL parameters and stopped at once.
			b, _ := bind(p.text, make([][]byte, len(p.oids)))
			cols, err := c.columnsOf(b)
			if err != nil {
				c.failExtended(toPGError(err, p.text, b))
				return
			}
			p.cols, p.descr = cols, true
		}
		c.be.Send(describe(p.cols, nil))
		return
	}
	pt, ok := c.portals[m.Name]
	if !ok {
		c.failExtended(&pgError{code: "34000", msg: fmt.Sprintf("portal %q does not exist", m.Name)})
		return
	}
	if pt.stmt.kind == noRows {
		c.be.Send(&pgproto3.NoData{})
		return
	}
	if err := c.startPortal(pt); err != nil {
		c.failExtended(toPGError(err, pt.stmt.text, pt.b))
		return
	}
	c.be.Send(describe(pt.run.cols, pt.formats))
}

// columnsOf starts b's statement to learn its result columns.
func (c *conn) columnsOf(b bound) ([]column, error) {
	stmts, err := c.parseSQL(b.text)
	if err != nil {
		return nil, err
	}
	if len(stmts) != 1 {
		return nil, nil
	}
	run, err := c.start(stmts[0], b.text)
	if err != nil {
		return nil, err
	}
	cols := run.cols
	run.close()
	c.endStatement()
	return cols, nil
}

func (c *conn) startPortal(pt *portal) error {
	if pt.run != nil {
		return nil
	}
	stmts, err := c.parseSQL(pt.b.text)
	if err != nil {
		return err
	}
	if len(stmts) == 0 {
		return nil
	}
	run, err := c.start(stmts[0], pt.b.text)
	if err != nil {
		return err
	}
	pt.run = run
	return nil
}

// execute handles Execute: the portal runs (or goes on) and sends its
// rows.
func (c *conn) execute(m *pgproto3.Execute) {
	pt, ok := c.portals[m.Portal]
	if !ok {
		c.failExtended(&pgError{code: "34000", msg: fmt.Sprintf("portal %q does not exist", m.Portal)})
		return
	}
	if pt.run != nil && pt.run.done {
		c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(commandTag(pt.run))})
		return
	}
	if err := c.startPortal(pt); err != nil {
		c.failExtended(toPGError(err, pt.stmt.text, pt.b))
		return
	}
	if pt.run == nil {
		c.be.Send(&pgproto3.EmptyQueryResponse{})
		return
	}
	if _, err := c.send(pt.run, pt.formats, int32(m.MaxRows)); err != nil {
		c.failExtended(toPGError(err, pt.stmt.text, pt.b))
	}
}

// closeObject handles Close of a statement or a portal.
func (c *conn) closeObject(m *pgproto3.Close) {
	if m.ObjectType == 'S' {
		delete(c.stmts, m.Name)
	} else if pt := c.portals[m.Name]; pt != nil {
		c.closePortal(m.Name, pt)
	}
	c.be.Send(&pgproto3.CloseComplete{})
}

func (c *conn) closePortal(name string, pt *portal) {
	if pt.run != nil {
		pt.run.close()
		c.endStatement()
	}
	delete(c.portals, name)
}

// closePortals ends the transaction's portals (Sync, or the end of the
// session): their queries stop and free their state.
func (c *conn) closePortals() {
	for name, pt := range c.portals {
		c.closePortal(name, pt)
	}
}

// pgError is an ErrorResponse to send.
type pgError struct {
	code string
	msg  string
	pos  int // 1-based character position in the client's text; 0 if none
}

func (e *pgError) Error() string { return e.msg }

// fail sends an ErrorResponse (the simple protocol then sends
// ReadyForQuery).
func (c *conn) fail(e *pgError) {
	c.be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: e.code, Message: e.msg, Position: int32(e.pos)})
}

// failExtended sends an ErrorResponse and discards the extended
// protocol's messages until Sync.
func (c *conn) failExtended(e *pgError) {
	c.fail(e)
	c.skipToSync = true
}

// sqlStates maps sluice's error kinds to SQLSTATE codes.
var sqlStates = map[sql.ErrorKind]string{
	sql.ParseError:     "42601", // syntax_error
	sql.BindError:      "42000", // syntax_error_or_access_rule_violation
	sql.PlanError:      "0A000", // feature_not_supported
	sql.ExecError:      "22000", // data_exception
	sql.ConnectorError: "58030", // io_error
}

// toPGError turns a statement's error into an ErrorResponse; a position
// in b's text is mapped back to the client's text.
func toPGError(err error, client string, b bound) *pgError {
	var pe *pgError
	if errors.As(err, &pe) {
		return pe
	}
	if errors.Is(err, errCanceled) {
		return &pgError{code: "57014", msg: errCanceled.Error()}
	}
	var se *sql.Error
	if !errors.As(err, &se) {
		return &pgError{code: "XX000", msg: err.Error()}
	}
	e := &pgError{code: sqlStates[se.Kind], msg: se.Msg}
	if e.code == "" {
		e.code = "XX000"
	}
	if se.Pos.Line > 0 {
		off := offsetOf(b.text, se.Pos)
		off = min(b.original(off), len(client))
		e.pos = utf8.RuneCountInString(client[:off]) + 1
	} else if se.Msg == "" {
		e.msg = err.Error()
	}
	return e
}

// offsetOf is the byte offset of pos in text.
func offsetOf(text string, pos sql.Pos) int {
	if pos.Offset > 0 || (pos.Line == 1 && pos.Col <= 1) {
		return min(pos.Offset, len(text))
	}
	off := 0
	for line := 1; line < pos.Line; line++ {
		i := strings.IndexByte(text[off:], '\n')
		if i < 0 {
			return len(text)
		}
		off += i + 1
	}
	return min(off+pos.Col-1, len(text))
}
