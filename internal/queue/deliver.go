package queue

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"pochta.dev/pochta/internal/netguard"
	"pochta.dev/pochta/internal/protoline"
)

// result is what became of one recipient in one attempt.
type result struct {
	sent      bool
	permanent bool   // a 5xx: give up
	reply     string // the server's reply or the failure, for the log and the DSN
	code      int    // the reply code, 0 when none came
	enhanced  string // "5.1.1", "" when none came
	server    string // the host that answered ("" when none did)
	// tlsFallback is why an MX's STARTTLS failed when the message then
	// went on in plain text ("" when it did not), for the work log.
	tlsFallback string
}

// transient makes a temporary failure of err. Its text may hold a hostile
// server's raw bytes (a malformed reply): made one valid line, or the
// database would refuse the outcome and the message be tried for ever.
func transient(server string, err error) result {
	var smtpErr *smtp.SMTPError
	if errors.As(err, &smtpErr) {
		return replyResult(server, smtpErr)
	}
	return result{reply: oneLine(err.Error()), server: server}
}

func replyResult(server string, e *smtp.SMTPError) result {
	r := result{code: e.Code, reply: strconv.Itoa(e.Code) + " " + oneLine(e.Message), permanent: e.Code >= 500, server: server}
	if e.EnhancedCode != (smtp.EnhancedCode{}) && e.EnhancedCode != smtp.NoEnhancedCode {
		r.enhanced = fmt.Sprintf("%d.%d.%d", e.EnhancedCode[0], e.EnhancedCode[1], e.EnhancedCode[2])
		r.reply = fmt.Sprintf("%d %s %s", e.Code, r.enhanced, oneLine(e.Message))
	}
	return r
}

// target is one server to try.
type target struct {
	host string
	port int
	tls  string // TLSNone, TLSStartTLS, TLSImplicit, or "" for opportunistic STARTTLS
	// verify checks the certificate (the smarthost unless the admin said
	// not to; opportunistic STARTTLS to an MX does not, as RFC 7435 says).
	verify   bool
	login    string
	password string
}

func (t target) address() string { return net.JoinHostPort(t.host, strconv.Itoa(t.port)) }

// session delivers raw to the recipients over one connection to t. It
// gives a result per recipient, in order, or an error when no server
// answered the transaction at all (a connection or greeting failure), for
// the caller to try another host.
func (q *Queue) session(ctx context.Context, dialer netguard.ContextDialer, t target, timeout time.Duration, from string,
	recipients []string, raw *content) (results []result, err error) {
	for _, check := range []struct{ name, value string }{{"host", t.host}, {"hostname", q.config.Hostname}, {"login", t.login},
		{"password", t.password}, {"sender", from}} {
		if err := protoline.Check(check.name, check.value); err != nil {
			return nil, err
		}
	}
	dialCtx, cancel := context.WithTimeout(ctx, timeout)
	conn, err := dialer.DialContext(dialCtx, "tcp", t.address())
	cancel()
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", t.address(), err)
	}
	// A context that ends closes the connection, so that a stopping
	// process is not held by a silent server.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	tlsConfig := &tls.Config{ServerName: t.host, InsecureSkipVerify: !t.verify, MinVersion: tls.VersionTLS12}
	switch t.tls {
	case TLSImplicit:
		conn = tls.Client(conn, tlsConfig)
	case TLSStartTLS, "":
		// go-smtp's client says EHLO as "localhost" before its STARTTLS
		// and cannot start TLS once it has greeted: the exchange up to
		// the handshake is made here, and the client is given the
		// encrypted connection with a greeting of its own.
		plain := conn
		var refused string
		conn, refused, err = startTLS(conn, timeout, q.config.Hostname, tlsConfig, t.tls == TLSStartTLS)
		if refused != "" {
			// Said on every result of this session, whichever way it
			// returns.
			defer func() {
				for i := range results {
					results[i].tlsFallback = refused
				}
			}()
		}
		if err != nil {
			plain.Close()
			var handshake *tlsHandshakeError
			if t.tls == "" && errors.As(err, &handshake) {
				// Opportunistic TLS that fails is mail in plain text,
				// as RFC 7435 says, rather than mail never delivered:
				// an MX is never authenticated, so TLS here only ever
				// guarded against a passive listener. A smarthost's
				// TLS mode is never "", so it never falls back.
				t.tls = TLSNone
				results, err := q.session(ctx, dialer, t, timeout, from, recipients, raw)
				for i := range results {
					results[i].tlsFallback = oneLine(handshake.err.Error())
				}
				return results, err
			}
			return nil, fmt.Errorf("%s: %w", t.address(), err)
		}
	}
	client := smtp.NewClient(conn)
	client.CommandTimeout, client.SubmissionTimeout = timeout, 2*timeout
	defer client.Close()
	if err := client.Hello(q.config.Hostname); err != nil {
		return nil, fmt.Errorf("greeting or EHLO of %s: %w", t.address(), err)
	}
	if t.login != "" {
		if err := client.Auth(sasl.NewPlainClient("", t.login, t.password)); err != nil {
			return nil, fmt.Errorf("AUTH at %s: %w", t.address(), err)
		}
	}
	results = make([]result, len(recipients))
	options := &smtp.MailOptions{}
	if ok, _ := client.Extension("8BITMIME"); ok && raw.eightBit() {
		options.Body = smtp.Body8BitMIME
	}
	if !isASCII(from) || slices.ContainsFunc(recipients, func(r string) bool { return !isASCII(r) }) {
		if ok, _ := client.Extension("SMTPUTF8"); !ok {
			// RFC 6531 3.2: an address in UTF-8 to a server without
			// SMTPUTF8 is a permanent failure, not one to retry.
			for i := range results {
				results[i] = result{permanent: true, code: 553, enhanced: "5.6.7", server: t.host,
					reply: "553 5.6.7 " + t.host + " does not take addresses in UTF-8 (no SMTPUTF8)"}
			}
			client.Quit()
			return results, nil
		}
		options.UTF8 = true
	}
	if err := client.Mail(from, options); err != nil {
		var smtpErr *smtp.SMTPError
		if !errors.As(err, &smtpErr) {
			return nil, fmt.Errorf("MAIL FROM at %s: %w", t.address(), err)
		}
		for i := range results {
			results[i] = replyResult(t.host, smtpErr)
		}
		return results, nil
	}
	accepted := 0
	for i, to := range recipients {
		if err := protoline.Check("recipient", to); err != nil {
			results[i] = result{permanent: true, reply: "550 5.1.3 " + oneLine(err.Error()), code: 550, enhanced: "5.1.3"}
			continue
		}
		if err := client.Rcpt(to, nil); err != nil {
			var smtpErr *smtp.SMTPError
			if !errors.As(err, &smtpErr) {
				return nil, fmt.Errorf("RCPT TO at %s: %w", t.address(), err)
			}
			results[i] = replyResult(t.host, smtpErr)
			continue
		}
		results[i] = result{sent: true}
		accepted++
	}
	if accepted == 0 {
		client.Quit()
		return results, nil
	}
	data, err := q.sendData(client, raw)
	for i := range results {
		if !results[i].sent {
			continue
		}
		if err != nil {
			results[i] = transient(t.host, err)
			continue
		}
		results[i] = result{sent: true, code: 250, reply: data, server: oneLine(t.host)}
	}
	client.Quit()
	return results, nil
}

// sendData sends DATA and gives the server's final reply.
func (q *Queue) sendData(client *smtp.Client, raw *content) (string, error) {
	source, err := raw.open()
	if err != nil {
		return "", err
	}
	defer source.Close()
	writer, err := client.Data()
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(writer, source); err != nil {
		writer.Close()
		return "", err
	}
	response, err := writer.CloseWithResponse()
	if err != nil {
		return "", err
	}
	return "250 " + oneLine(response.StatusText), nil
}

// content is a claimed message's bytes: in memory when small, else read
// from the database a chunk at a time at each sending.
type content struct {
	raw    []byte                        // nil: open reads it
	stream func() (io.ReadCloser, error) // the database's stream of a large message
}

func (c *content) open() (io.ReadCloser, error) {
	if c.raw != nil || c.stream == nil {
		return io.NopCloser(bytes.NewReader(c.raw)), nil
	}
	return c.stream()
}

// eightBit says whether the message may hold 8-bit bytes (BODY=8BITMIME):
// a large one is not read twice to find out (declaring 8BITMIME for 7-bit
// data is allowed).
func (c *content) eightBit() bool {
	if c.raw == nil && c.stream != nil {
		return true
	}
	return !isASCII(string(c.raw))
}

// header gives the start of the message, up to its header's end or
// maxReturnedHeader, for a notice.
func (c *content) header() []byte {
	if c.raw != nil || c.stream == nil {
		return headerOf(c.raw)
	}
	source, err := c.stream()
	if err != nil {
		return nil
	}
	defer source.Close()
	start, _ := io.ReadAll(io.LimitReader(source, maxReturnedHeader+4))
	return headerOf(start)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// deliver sends raw to the recipients: those in domains Pochta serves
// into its own mailboxes (Config.Local), the others out.
func (q *Queue) deliver(ctx context.Context, settings Settings, forUser bool, from string, recipients []string, raw *content) []result {
	if q.config.Local == nil {
		return q.deliverOut(ctx, settings, forUser, from, recipients, raw)
	}
	results := make([]result, len(recipients))
	var local, remote []int
	for i, to := range recipients {
		serves, err := q.config.Local.Serves(ctx, to)
		switch {
		case err != nil:
			results[i] = result{reply: "local delivery: " + oneLine(err.Error())} // tried again later
		case serves:
			local = append(local, i)
		default:
			remote = append(remote, i)
		}
	}
	if len(local) > 0 {
		to := make([]string, len(local))
		for j, i := range local {
			to[j] = recipients[i]
		}
		r := result{sent: true, code: 250, reply: "250 2.0.0 stored in a local mailbox", server: "local"}
		if err := q.config.Local.Deliver(ctx, from, to, raw.open); err != nil {
			r = result{reply: "local delivery: " + oneLine(err.Error())}
		} else {
			q.local.Add(int64(len(to)))
		}
		for _, i := range local {
			results[i] = r
		}
	}
	if len(remote) > 0 {
		to := make([]string, len(remote))
		for j, i := range remote {
			to[j] = recipients[i]
		}
		got := q.deliverOut(ctx, settings, forUser, from, to, raw)
		for j, i := range remote {
			results[i] = got[j]
		}
	}
	return results
}

// deliverOut sends raw to recipients elsewhere: through the smarthost when
// there is one, else to each domain's mail servers in preference order.
func (q *Queue) deliverOut(ctx context.Context, settings Settings, forUser bool, from string, recipients []string, raw *content) []result {
	timeout := settings.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	results := make([]result, len(recipients))
	if host := settings.Smarthost; host.Host != "" {
		// The smarthost is the admin's choice: dialled as it is.
		t := target{host: host.Host, port: host.Port, tls: host.TLS, verify: !host.InsecureSkipVerify, login: host.Login, password: host.Password}
		if t.tls == "" {
			t.tls = TLSStartTLS
		}
		if t.port == 0 {
			t.port = map[string]int{TLSNone: 25, TLSStartTLS: 587, TLSImplicit: 465}[t.tls]
		}
		got, err := q.session(ctx, q.config.Dialer, t, timeout, from, recipients, raw)
		if err != nil {
			// A smarthost that cannot be reached, refuses the login or
			// finds the settings unsafe is the admin's to fix: the mail
			// waits for it rather than bouncing.
			for i := range results {
				results[i] = transient("", err)
				results[i].permanent = false
			}
			return results
		}
		return got
	}
	dialer := q.config.Dialer
	if forUser {
		dialer = &netguard.Dialer{Policy: netguard.Policy{Allowed: settings.AllowedNetworks}, Dialer: q.config.Dialer}
	}
	// One transaction per domain, with its recipients.
	byDomain := map[string][]int{}
	var domains []string
	for i, to := range recipients {
		domain := strings.ToLower(to[strings.LastIndexByte(to, '@')+1:])
		if _, seen := byDomain[domain]; !seen {
			domains = append(domains, domain)
		}
		byDomain[domain] = append(byDomain[domain], i)
	}
	for _, domain := range domains {
		indexes := byDomain[domain]
		subset := make([]string, len(indexes))
		for j, i := range indexes {
			subset[j] = recipients[i]
		}
		got := q.deliverDomain(ctx, dialer, timeout, domain, from, subset, raw)
		for j, i := range indexes {
			results[i] = got[j]
		}
	}
	return results
}

// deliverDomain tries the domain's MX hosts in preference order (the
// domain itself when it has none, RFC 5321 5.1) until one answers.
func (q *Queue) deliverDomain(ctx context.Context, dialer netguard.ContextDialer, timeout time.Duration, domain, from string,
	recipients []string, raw *content) []result {
	all := func(r result) []result {
		out := make([]result, len(recipients))
		for i := range out {
			out[i] = r
		}
		return out
	}
	if err := protoline.Check("domain", domain); err != nil || strings.HasPrefix(domain, "[") {
		// An address literal is not delivered to: relaying to
		// user@[10.0.0.1] would make the queue a way into any network.
		return all(result{permanent: true, code: 550, enhanced: "5.1.2", reply: "550 5.1.2 domain not deliverable: " + domain})
	}
	lookup, cancel := context.WithTimeout(ctx, timeout)
	records, err := q.config.Resolver.LookupMX(lookup, domain)
	cancel()
	var hosts []string
	var dnsErr *net.DNSError
	switch {
	case err == nil || (errors.As(err, &dnsErr) && dnsErr.IsNotFound && len(records) == 0):
		slices.SortStableFunc(records, func(a, b *net.MX) int { return int(a.Pref) - int(b.Pref) })
		for _, mx := range records {
			hosts = append(hosts, strings.TrimSuffix(mx.Host, "."))
		}
		if len(records) == 0 {
			hosts = []string{domain} // the implicit MX: the domain's A/AAAA
		}
		if len(hosts) == 1 && hosts[0] == "" {
			// RFC 7505 null MX: the domain takes no mail.
			return all(result{permanent: true, code: 556, enhanced: "5.1.10", reply: "556 5.1.10 " + domain + " accepts no mail (null MX)"})
		}
	default:
		return all(result{reply: "MX lookup for " + domain + ": " + oneLine(err.Error())})
	}
	var last error
	for _, host := range hosts {
		got, err := q.session(ctx, dialer, target{host: host, port: q.config.MXPort}, timeout, from, recipients, raw)
		if err == nil {
			return got
		}
		if errors.Is(err, protoline.ErrUnsafe) {
			return all(result{permanent: true, code: 550, enhanced: "5.1.3", reply: "550 5.1.3 " + oneLine(err.Error())})
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	failed := transient("", last)
	failed.permanent = false // another MX, or the same later, may answer
	return all(failed)
}

// startTLS reads the greeting, says EHLO and, when the server offers it
// (required: or fails), starts TLS. It gives the connection to continue on
// (encrypted or not), which first reads as a fresh 220 greeting. When TLS
// is not required and the server offers STARTTLS but refuses it when asked
// (a 454 "TLS not available", RFC 3207 4), the session goes on in plain
// text on the same connection, and refused says why.
func startTLS(conn net.Conn, timeout time.Duration, hostname string, config *tls.Config, required bool) (_ net.Conn, refused string, _ error) {
	conn.SetDeadline(time.Now().Add(timeout))
	defer conn.SetDeadline(time.Time{})
	text := textproto.NewConn(struct {
		io.Reader
		io.Writer
		io.Closer
	}{conn, conn, io.NopCloser(nil)})
	reply := func(expect int) (string, error) {
		_, message, err := text.ReadResponse(expect)
		var protocolErr *textproto.Error
		if errors.As(err, &protocolErr) {
			return "", &smtp.SMTPError{Code: protocolErr.Code, Message: protocolErr.Msg}
		}
		return message, err
	}
	greeting, err := reply(220)
	if err != nil {
		return nil, "", fmt.Errorf("greeting: %w", err)
	}
	if err := text.PrintfLine("EHLO %s", hostname); err != nil {
		return nil, "", err
	}
	extensions, err := reply(250)
	if err != nil {
		return nil, "", fmt.Errorf("EHLO: %w", err)
	}
	offered := false
	for _, line := range strings.Split(extensions, "\n")[1:] {
		if strings.EqualFold(strings.TrimSpace(line), "STARTTLS") {
			offered = true
		}
	}
	if !offered {
		if required {
			return nil, "", errors.New("no STARTTLS offered")
		}
		return greeted(conn, greeting), "", nil
	}
	if err := text.PrintfLine("STARTTLS"); err != nil {
		return nil, "", err
	}
	if _, err := reply(220); err != nil {
		var smtpErr *smtp.SMTPError
		if !required && errors.As(err, &smtpErr) && smtpErr.Code != 421 {
			// Still a session in plain text: the client's EHLO
			// starts it again.
			return greeted(conn, greeting), oneLine(fmt.Sprintf("refused: %d %s", smtpErr.Code, smtpErr.Message)), nil
		}
		return nil, "", fmt.Errorf("STARTTLS: %w", err)
	}
	encrypted := tls.Client(conn, config)
	if err := encrypted.Handshake(); err != nil {
		return nil, "", &tlsHandshakeError{err}
	}
	return greeted(encrypted, greeting), "", nil
}

// greeted is a connection whose first read is a 220 greeting, for a client
// to start on a connection whose real greeting was read already.
func greeted(conn net.Conn, greeting string) net.Conn {
	first := "220 " + strings.ReplaceAll(strings.Split(greeting, "\n")[0], "\r", "") + "\r\n"
	return &prefixedConn{Conn: conn, prefix: []byte(first)}
}

type prefixedConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixedConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

type tlsHandshakeError struct{ err error }

func (e *tlsHandshakeError) Error() string { return "TLS handshake: " + e.err.Error() }
func (e *tlsHandshakeError) Unwrap() error { return e.err }
