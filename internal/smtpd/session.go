package smtpd

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/worklog"
)

// Replies of the acceptance rules.
var (
	errRelayDenied   = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "relaying denied"}
	errBadSender     = &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 1, 7}, Message: "bad sender address syntax"}
	errBadAddress    = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "bad recipient address syntax"}
	errTooManyErrors = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "too many errors, closing the connection"}
	errTooMany       = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "too many messages in this connection, closing it"}
	errThrottled     = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "too many failed logins from your address, try again later"}
	errAuthTemporary = &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "temporary authentication failure"}
	errSmuggling     = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
		Message: "bare carriage return or line feed around a dot line: message refused (SMTP smuggling)"}
	errLineTooLong = &smtp.SMTPError{Code: 500, EnhancedCode: smtp.EnhancedCode{5, 5, 2}, Message: "line too long"}
	errStore       = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "message not stored, try again later"}
)

func errUnknownDomain(to string) error {
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "<" + clean(to) + ">: domain not served here"}
}

// connState is what lasts for a whole connection, across the sessions
// go-smtp makes (a new one after STARTTLS).
type connState struct {
	server   *Server
	listener *listener
	mailbox  store.Mailbox
	policy   Policy
	settings Settings
	conn     *conn
	scanner  *smuggleScanner
	ip       string
	local    string
	ctx      context.Context

	mu       sync.Mutex
	pending  []store.LogEntry // this connection's lines not yet handed to the batch
	lines    int              // lines joined into the last pending entry
	messages int              // messages accepted
	errors   int              // refused commands
	smuggled int64            // scanner count already answered for
}

func (s *Server) serve(l *listener, raw net.Conn) {
	ip := ""
	if addr, ok := raw.RemoteAddr().(*net.TCPAddr); ok {
		ip = addr.IP.String()
	}
	ctx := context.Background()
	settings, err := s.config.Settings(ctx)
	if err != nil {
		s.logger.Error("smtp: settings", "error", err)
		settings = DefaultSettings()
	}
	c := newConn(raw, s.config.IdleTimeout)
	s.mu.Lock()
	s.perIP[ip]++
	over := settings.MaxConnectionsPerIP > 0 && s.perIP[ip] > settings.MaxConnectionsPerIP
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.connections.Add(1)
	l.connections.Add(1)
	s.open.Add(1)
	l.open.Add(1)
	defer func() {
		s.mu.Lock()
		if s.perIP[ip]--; s.perIP[ip] <= 0 {
			delete(s.perIP, ip)
		}
		delete(s.conns, c)
		s.mu.Unlock()
		s.open.Add(-1)
		l.open.Add(-1)
		c.Close()
	}()
	mailbox := *l.mailbox.Load()
	state := &connState{server: s, listener: l, mailbox: mailbox, settings: settings, conn: c, scanner: &smuggleScanner{}, ip: ip,
		local: raw.LocalAddr().String(), ctx: ctx,
		policy: Policy{Domains: ParseDomains(mailbox.Domains), Relay: mailbox.Relay, RelayAuthOnly: mailbox.RelayAuthOnly}}
	state.log(store.LevelInfo, fmt.Sprintf("connection from %s to %s", ip, state.local))
	if over {
		state.log(store.LevelError, "refused: too many connections from "+ip)
		fmt.Fprintf(c, "421 4.7.0 %s too many connections from your address\r\n", s.hostname)
		state.flushLog()
		return
	}

	server := smtp.NewServer(smtp.BackendFunc(state.newSession))
	server.Domain = s.hostname
	server.MaxRecipients = settings.MaxRecipients
	server.MaxMessageBytes = int64(mailbox.MaxMessageSizeKB) * 1024
	if server.MaxMessageBytes <= 0 {
		server.MaxMessageBytes = DefaultMaxMessageBytes
	}
	server.MaxLineLength = settings.MaxLineLength
	server.AllowInsecureAuth = settings.AllowPlaintextAuth
	server.ReadTimeout = s.config.IdleTimeout
	server.WriteTimeout = s.config.IdleTimeout
	server.EnableSMTPUTF8 = true
	server.Debug = state.scanner
	server.ErrorLog = errorLog{s}
	if config, err := s.tls.config(settings); err != nil {
		s.logger.Error("smtp: TLS certificate", "error", err)
	} else {
		server.TLSConfig = config
	}
	_ = server.Serve(&oneConn{c: c})
	state.log(store.LevelInfo, "connection closed")
	state.flushLog()
}

type errorLog struct{ s *Server }

func (e errorLog) Printf(format string, v ...any) {
	e.s.logger.Debug("smtp: " + fmt.Sprintf(format, v...))
}
func (e errorLog) Println(v ...any) { e.s.logger.Debug("smtp: " + fmt.Sprintln(v...)) }

// log keeps a protocol line of the session. Lines of one level in a row
// (a pipelined MAIL and RCPTs, the replies) share a row, up to
// linesPerRow, as the POP3 fetch's do; the rows go to the server's batch
// at the end of each transaction and of the connection.
func (st *connState) log(level, text string) {
	entry := store.LogEntry{Level: level, Type: "smtp", MailboxID: st.mailbox.ID, Text: text}
	st.mu.Lock()
	defer st.mu.Unlock()
	if n := len(st.pending); n > 0 && level != store.LevelError {
		if last := &st.pending[n-1]; last.Level == level && st.lines < linesPerRow {
			*last = worklog.Join(*last, entry)
			st.lines++
			return
		}
	}
	st.pending = append(st.pending, entry)
	st.lines = 1
}

const linesPerRow = 64

// flushLog hands the session's rows to the server's batch.
func (st *connState) flushLog() {
	st.mu.Lock()
	pending := st.pending
	st.pending, st.lines = nil, 0
	st.mu.Unlock()
	for _, entry := range pending {
		st.server.log.add(entry)
	}
}

// refused counts a refused command; past MaxErrors the reply becomes 421
// and the connection is closed after it.
func (st *connState) refused(err error) error {
	st.mu.Lock()
	st.errors++
	over := st.errors >= st.server.config.MaxErrors
	st.mu.Unlock()
	st.log(store.LevelReply, replyText(err))
	if over {
		st.conn.closeAfter.Store(true)
		st.log(store.LevelError, "too many errors: connection closed")
		return errTooManyErrors
	}
	return err
}

func replyText(err error) string {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return fmt.Sprintf("%d %d.%d.%d %s", se.Code, se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2], se.Message)
	}
	return err.Error()
}

// session is one go-smtp session: from the greeting or STARTTLS to the end.
type session struct {
	*connState
	tls      *tls.ConnectionState
	helo     string
	user     string
	from     string
	local    []string
	relayed  []string
	mechUsed string
}

func (st *connState) newSession(c *smtp.Conn) (smtp.Session, error) {
	s := &session{connState: st, helo: c.Hostname()}
	if state, ok := c.TLSConnectionState(); ok {
		s.tls = &state
		st.log(store.LevelInfo, fmt.Sprintf("secured: %s %s", tls.VersionName(state.Version), tls.CipherSuiteName(state.CipherSuite)))
	}
	return s, nil
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

func (s *session) Auth(mech string) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && identity != username {
				return s.authResult(sasl.Plain, username, ErrBadCredentials)
			}
			return s.authenticate(sasl.Plain, username, password)
		}), nil
	case sasl.Login:
		return newLoginServer(func(username, password string) error {
			return s.authenticate(sasl.Login, username, password)
		}), nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *session) authenticate(mech, username, password string) error {
	err := s.server.config.Auth.Authenticate(s.ctx, username, password, s.ip)
	return s.authResult(mech, username, err)
}

// authResult logs an AUTH (the password masked) and gives its reply.
func (s *session) authResult(mech, username string, err error) error {
	s.log(store.LevelRequest, fmt.Sprintf("AUTH %s %s ****", mech, clean(username)))
	switch {
	case err == nil:
		s.user = username
		s.log(store.LevelReply, "235 2.7.0 authenticated as "+clean(username))
		return nil
	case errors.Is(err, ErrThrottled):
		s.conn.closeAfter.Store(true)
		s.log(store.LevelReply, replyText(errThrottled))
		return errThrottled
	case errors.Is(err, ErrBadCredentials):
		return s.refused(smtp.ErrAuthFailed)
	default:
		s.server.logger.Error("smtp: authentication", "error", err)
		s.log(store.LevelError, "authentication failed: "+err.Error())
		return errAuthTemporary
	}
}

func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	s.log(store.LevelRequest, "MAIL FROM:<"+clean(from)+">")
	s.mu.Lock()
	over := s.mailbox.MaxMessages > 0 && s.messages >= s.mailbox.MaxMessages
	s.mu.Unlock()
	if over {
		s.conn.closeAfter.Store(true)
		s.log(store.LevelReply, replyText(errTooMany))
		return errTooMany
	}
	if strings.ContainsFunc(from, isControl) || !utf8.ValidString(from) {
		// go-smtp would echo it in its 250 ("accepting mail from <...>"),
		// and no address has one (RFC 6531 addresses are UTF-8).
		s.log(store.LevelReply, replyText(errBadSender))
		return errBadSender
	}
	s.from = pathForm(from)
	s.local, s.relayed = nil, nil
	return nil
}

func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	s.log(store.LevelRequest, "RCPT TO:<"+clean(to)+">")
	switch Decide(s.policy, to, s.user != "") {
	case Local:
		s.local = append(s.local, to)
		return nil
	case Relayed:
		if err := s.server.config.Relay.Check(s.ctx, s.from, to); err != nil {
			s.log(store.LevelReply, replyText(err))
			return err
		}
		s.relayed = append(s.relayed, to)
		return nil
	case Denied:
		return s.refused(errRelayDenied)
	case Unknown:
		return s.refused(errUnknownDomain(to))
	default:
		return s.refused(errBadAddress)
	}
}

// Data stores the message: the trace fields and the data go to the
// intake's sink for the listener's mailbox (one copy however many local
// recipients), and the reply waits for the sink's commit, so that 250
// means durable.
func (s *session) Data(r io.Reader) error {
	// Busy until the reply is written: a shutdown waits for it. The 354
	// already made it so (see conn.Write); BDAT has no 354. A shutdown that
	// began after the 354 lets the message through to its 250: the client
	// is sending it.
	s.conn.busy.Store(true)
	id := newID()
	trace := TraceInfo{Helo: s.helo, ClientIP: s.ip, Hostname: s.server.hostname, TLS: s.tls,
		Authenticated: s.user, ID: id, From: s.from, Recipients: s.local, Time: s.server.config.Now()}
	body := &checkedReader{r: r, session: s}
	err := s.deliver(body, trace)
	s.mu.Lock()
	if err == nil {
		s.messages++
	}
	s.mu.Unlock()
	if err != nil {
		if s.smuggledNow() {
			err = errSmuggling
		}
		s.log(store.LevelReply, replyText(err))
		s.flushLog()
		return err
	}
	s.server.messages.Add(1)
	s.listener.messages.Add(1)
	s.log(store.LevelReply, "250 2.0.0 stored as "+id)
	s.flushLog()
	return nil
}

// smuggledNow reports whether the scanner saw a smuggling sequence since
// the last message, and marks it answered.
func (s *session) smuggledNow() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.scanner.count()
	seen := n > s.smuggled
	s.smuggled = n
	return seen
}

// deliver stores the message (body after trace's header fields) for the
// local recipients and queues it for the relayed ones, each copy with the
// trace fields its way calls for.
func (s *session) deliver(body io.Reader, trace TraceInfo) error {
	relayTrace := trace
	relayTrace.Relay = true
	relayCopy := func(body io.Reader) io.Reader { return io.MultiReader(bytes.NewReader(TraceHeader(relayTrace)), body) }
	if len(s.relayed) > 0 && len(s.local) == 0 {
		return mapReadError(s.server.config.Relay.Enqueue(s.ctx, s.from, s.relayed, relayCopy(body)))
	}
	// Both local and relayed recipients: the queue reads a copy as the
	// sink reads the message, and sees the sink's read error if it fails.
	// (Should the local copy fail after the queue took its copy, the 451
	// makes the client send both again: a duplicate, never a loss.)
	var relayDone chan error
	var copyTo *io.PipeWriter
	if len(s.relayed) > 0 {
		pr, pw := io.Pipe()
		copyTo = pw
		body = io.TeeReader(body, pw)
		relayDone = make(chan error, 1)
		go func() {
			err := s.server.config.Relay.Enqueue(s.ctx, s.from, s.relayed, relayCopy(pr))
			pr.CloseWithError(errors.Join(err, io.ErrClosedPipe))
			relayDone <- err
		}()
	}
	stored := make(chan intake.Result, 1)
	delivery := intake.Delivery{
		Targets:    []intake.Target{{Mailbox: s.mailbox}},
		Origin:     "SMTP",
		MayRefuse:  true,
		Envelope:   &intake.Envelope{From: s.from, Recipients: append([]string(nil), s.local...), Client: s.ip, Authenticated: s.user},
		ReceivedAt: s.server.config.Now(),
	}
	message := io.MultiReader(bytes.NewReader(TraceHeader(trace)), body)
	err := s.server.config.Sink.Add(s.ctx, message, delivery, func(results []intake.Result) { stored <- results[0] })
	if copyTo != nil {
		copyTo.CloseWithError(err) // nil: EOF
		if err != nil {
			<-relayDone
		}
	}
	if err != nil {
		return mapReadError(err)
	}
	result := <-stored
	if relayDone != nil {
		if err := <-relayDone; err != nil {
			return mapReadError(err)
		}
	}
	switch {
	case result.Refused && result.Refusal != nil:
		return refusalError(result.Refusal)
	case result.Err != nil:
		s.server.logger.Error("smtp: storing a message", "mailbox", s.mailbox.ID, "error", result.Err)
		return errStore
	}
	return nil
}

// mapReadError gives the reply for a message that could not be read or
// taken.
func mapReadError(err error) error {
	var se *smtp.SMTPError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return se
	case errors.Is(err, smtp.ErrTooLongLine):
		return errLineTooLong
	case errors.Is(err, errSmuggled):
		return errSmuggling
	case errors.Is(err, intake.ErrTooLarge):
		return smtp.ErrDataTooLarge
	}
	return errStore
}

func refusalError(r *intake.Refusal) error {
	e := &smtp.SMTPError{Code: r.Code, EnhancedCode: smtp.EnhancedCodeNotSet, Message: r.Message}
	if e.Code < 400 || e.Code > 599 {
		e.Code = 550
	}
	var a, b, c int
	if _, err := fmt.Sscanf(r.EnhancedCode, "%d.%d.%d", &a, &b, &c); err == nil && a == e.Code/100 {
		e.EnhancedCode = smtp.EnhancedCode{a, b, c}
	}
	if e.Message == "" {
		e.Message = "message refused"
	}
	return e
}

var errSmuggled = errors.New("SMTP smuggling sequence in the data")

// checkedReader is the data as the sink reads it: at its end, before the
// sink sees EOF (and so before it can store anything), it fails if the
// scanner saw a smuggling sequence in this message.
type checkedReader struct {
	r       io.Reader
	session *session
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF && c.session.smuggledNow() {
		return n, errSmuggled
	}
	return n, err
}

func (s *session) Reset() {
	s.from, s.local, s.relayed = "", nil, nil
}

func (s *session) Logout() error { return nil }

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}
