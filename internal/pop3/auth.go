package pop3

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"pochta.dev/pochta/internal/protoline"
)

// Authentication methods for [Client.Auth].
const (
	AuthAuto  = "auto"  // SASL PLAIN when offered, else USER/PASS
	AuthAPOP  = "apop"  // APOP when the greeting has a timestamp, else USER/PASS
	AuthUser  = "user"  // USER/PASS
	AuthPlain = "plain" // SASL PLAIN when offered, else USER/PASS
)

// Auth logs in. method is AuthAuto ("" means the same), AuthAPOP, AuthUser
// or AuthPlain; see their comments for what is sent. A rejected login is an
// [*Error] (Code "AUTH" for Dovecot's wrong password, Temporary false; "IN-USE"
// or "LOGIN-DELAY" with Temporary true). The password never appears in
// traces or errors. A login or password with CR, LF or NUL is refused with
// [ErrUnsafeArgument] before anything is sent. Capabilities are read again
// after the login.
func (c *Client) Auth(ctx context.Context, login, password, method string) (err error) {
	switch method {
	case "", AuthAuto, AuthAPOP, AuthUser, AuthPlain:
	default:
		return c.wrap(fmt.Errorf("%w: auth method %q (want auto, apop, user or plain)", ErrUnsupported, method))
	}
	// Both are checked before the first command: USER must not go out
	// when PASS could not follow. Under AUTH PLAIN and APOP neither is a
	// line of its own, but a NUL splits SASL PLAIN's fields and USER/PASS
	// is the fallback of both.
	if err := protoline.Check("login", login); err != nil {
		return c.wrap(err)
	}
	if err := protoline.Check("password", password); err != nil {
		return c.wrap(err)
	}
	o, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer func() { err = o.end(err) }()

	switch {
	case method == AuthAPOP && c.timestamp != "":
		err = c.apop(login, password)
	case method == AuthAPOP || method == AuthUser:
		err = c.userPass(login, password)
	default:
		caps, cerr := c.capa()
		if cerr != nil {
			return cerr
		}
		if caps.HasSASL("PLAIN") {
			err = c.authPlain(login, password)
		} else {
			err = c.userPass(login, password)
		}
	}
	if err == nil {
		c.caps, c.capsKnown = nil, false
	}
	return err
}

func (c *Client) apop(login, password string) error {
	sum := md5.Sum([]byte(c.timestamp + password))
	_, err := c.cmd("APOP " + login + " " + hex.EncodeToString(sum[:]))
	return err
}

func (c *Client) userPass(login, password string) error {
	if _, err := c.cmd("USER " + login); err != nil {
		return err
	}
	_, err := c.cmd("PASS " + password)
	return err
}

// authPlain sends AUTH PLAIN with an initial response (RFC 5034). A server
// that asks for the response anyway with an empty "+" gets it once more.
func (c *Client) authPlain(login, password string) error {
	resp := base64.StdEncoding.EncodeToString([]byte("\x00" + login + "\x00" + password))
	command := "AUTH PLAIN " + resp
	if err := c.send(command); err != nil {
		return err
	}
	if err := c.flush(); err != nil {
		return err
	}
	for i := 0; ; i++ {
		r, err := c.readReply(command)
		if err != nil || r.ok {
			return err
		}
		// A continuation.
		if i > 0 || strings.TrimSpace(r.text) != "" {
			if err := c.send("*"); err != nil {
				return err
			}
			if err := c.flush(); err != nil {
				return err
			}
			c.readReply("*")
			return c.fail(protocolErrorf("unexpected SASL challenge to AUTH PLAIN"))
		}
		command = masked
		if err := c.sendShown(resp, masked); err != nil {
			return err
		}
		if err := c.flush(); err != nil {
			return err
		}
	}
}
