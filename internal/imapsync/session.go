package imapsync

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"pochta.dev/pochta/internal/protoline"
	"pochta.dev/pochta/internal/receive"
)

// Security settings of a connection (store.Mailbox.Security).
const (
	SecurityNone     = "none"
	SecurityTLS      = "tls"
	SecurityStartTLS = "starttls"
)

// ErrLogin marks a login the server refused.
var ErrLogin = errors.New("login refused")

// ErrNotIMAP is the error of a server that does not greet as IMAP.
var ErrNotIMAP = errors.New("not an IMAP server")

// session is one logged-in IMAP connection.
type session struct {
	client *imapclient.Client
	stop   func() bool // ends the context watch
}

func (c *session) close() {
	c.stop()
	c.client.Close()
}

// logout says goodbye politely, then closes.
func (c *session) logout() {
	c.client.Logout().Wait()
	c.close()
}

// connect dials, secures and logs in. The connection is closed when ctx
// ends, which ends any command waiting on it. handler receives the
// server's unsolicited data (IDLE's EXISTS); nil for none.
func (s *Syncer) connect(ctx context.Context, connection receive.Connection, handler *imapclient.UnilateralDataHandler) (*session, error) {
	// A CR, LF or NUL would end the command and start another of the
	// user's choosing; refuse before a byte is written.
	if err := protoline.Check("login", connection.Login); err != nil {
		return nil, err
	}
	if err := protoline.Check("password", connection.Password); err != nil {
		return nil, err
	}
	timeout := connection.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	var dialer receive.Dialer = &net.Dialer{}
	if connection.Dialer != nil {
		dialer = connection.Dialer
	}
	address := net.JoinHostPort(connection.Server, strconv.Itoa(connection.Port))
	dialCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	raw, err := dialer.DialContext(dialCtx, "tcp", address)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", address, err)
	}
	tlsConfig := &tls.Config{
		ServerName:         connection.Server,
		InsecureSkipVerify: !connection.VerifyCert, // the mailbox's "don't verify certificate"
		RootCAs:            s.config.RootCAs,
		MinVersion:         tls.VersionTLS12,
	}
	options := &imapclient.Options{TLSConfig: tlsConfig, UnilateralDataHandler: handler}
	// Until the session is logged in, the dial's deadline bounds every
	// step: a server that accepts and says nothing is a timeout.
	raw.SetDeadline(time.Now().Add(timeout))
	var client *imapclient.Client
	switch connection.Security {
	case SecurityTLS:
		secured := tls.Client(raw, tlsConfig)
		if err := secured.HandshakeContext(dialCtx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("TLS with %s: %w", address, err)
		}
		client = imapclient.New(secured, options)
	case SecurityStartTLS:
		client, err = imapclient.NewStartTLS(raw, options)
		if err != nil {
			raw.Close()
			return nil, fmt.Errorf("STARTTLS with %s: %w", address, err)
		}
	default:
		client = imapclient.New(raw, options)
	}
	c := &session{client: client, stop: context.AfterFunc(ctx, func() { client.Close() })}
	if err := client.WaitGreeting(); err != nil {
		c.close()
		if reason := receive.Classify(err); reason != receive.Other && reason != receive.Closed {
			return nil, fmt.Errorf("greeting of %s: %w", address, err)
		}
		// Something else listens there (SSH, a web server): said as
		// such, never quoted.
		return nil, receive.Mark(receive.Protocol, fmt.Errorf("%w: %s does not greet as an IMAP server", ErrNotIMAP, address))
	}
	if connection.Mechanism != "" {
		if err := c.authenticate(connection); err != nil {
			c.close()
			return nil, err
		}
		raw.SetDeadline(time.Time{})
		return c, nil
	}
	if err := client.Login(connection.Login, connection.Password).Wait(); err != nil {
		c.close()
		var reply *imap.Error
		if errors.As(err, &reply) {
			return nil, fmt.Errorf("%w: %w", ErrLogin, err)
		}
		return nil, fmt.Errorf("login to %s: %w", address, err)
	}
	raw.SetDeadline(time.Time{}) // the client sets its own per command from here
	return c, nil
}

// authenticate signs in with an OAuth2 access token (connection.Password)
// by the connection's SASL mechanism.
func (c *session) authenticate(connection receive.Connection) error {
	client, refused, err := bearerClient(connection.Mechanism, connection.Login, connection.Password, connection.Server, connection.Port)
	if err != nil {
		return err
	}
	if err := c.client.Authenticate(client); err != nil {
		if bearer := refused(); bearer != nil {
			return fmt.Errorf("%w: %w: %w", ErrLogin, bearer, err)
		}
		var reply *imap.Error
		if errors.As(err, &reply) {
			return fmt.Errorf("%w: %w", ErrLogin, err)
		}
		return fmt.Errorf("authenticate with %s: %w", strings.ToUpper(connection.Mechanism), err)
	}
	return nil
}

// Folder is a folder on the server.
type Folder struct {
	Name string
	// Role is its special-use role without the backslash ("Sent",
	// "Trash", "Junk", "Archive", "Drafts", "All", "Flagged"), "Inbox" for
	// the INBOX, "" for none.
	Role       string
	Selectable bool
}

// specialUse are the roles Pochta knows, by attribute.
var specialUse = map[imap.MailboxAttr]string{
	imap.MailboxAttrAll: "All", imap.MailboxAttrArchive: "Archive", imap.MailboxAttrDrafts: "Drafts",
	imap.MailboxAttrFlagged: "Flagged", imap.MailboxAttrJunk: "Junk", imap.MailboxAttrSent: "Sent",
	imap.MailboxAttrTrash: "Trash", imap.MailboxAttrImportant: "Important",
}

// folders lists the server's folders with their roles, INBOX first, then
// by name.
func (c *session) folders() ([]Folder, error) {
	options := &imap.ListOptions{}
	if c.client.Caps().Has(imap.CapSpecialUse) {
		options.ReturnSpecialUse = true
	}
	list, err := c.client.List("", "*", options).Collect()
	if err != nil {
		return nil, fmt.Errorf("list folders: %w", err)
	}
	folders := make([]Folder, 0, len(list))
	for _, data := range list {
		f := Folder{Name: data.Mailbox, Selectable: true}
		if strings.EqualFold(f.Name, "INBOX") {
			f.Name, f.Role = "INBOX", "Inbox"
		}
		for _, attr := range data.Attrs {
			if role, ok := specialUseFold(attr); ok && f.Role == "" {
				f.Role = role
			}
			switch strings.ToLower(string(attr)) {
			case strings.ToLower(string(imap.MailboxAttrNoSelect)), strings.ToLower(string(imap.MailboxAttrNonExistent)):
				f.Selectable = false
			}
		}
		folders = append(folders, f)
	}
	sort.SliceStable(folders, func(i, j int) bool {
		if (folders[i].Name == "INBOX") != (folders[j].Name == "INBOX") {
			return folders[i].Name == "INBOX"
		}
		return folders[i].Name < folders[j].Name
	})
	return folders, nil
}

// specialUseFold finds a role whatever the case the server wrote it in.
func specialUseFold(attr imap.MailboxAttr) (string, bool) {
	for known, role := range specialUse {
		if strings.EqualFold(string(known), string(attr)) {
			return role, true
		}
	}
	return "", false
}

// Folders logs in with connection settings that need not be saved and
// lists the server's folders with their roles: the form's folder choice.
func (s *Syncer) Folders(ctx context.Context, connection receive.Connection) ([]Folder, error) {
	c, err := s.connect(ctx, connection, nil)
	if err != nil {
		return nil, marked(err)
	}
	defer c.logout()
	folders, err := c.folders()
	return folders, marked(err)
}

// Test logs in with connection settings that need not be saved and counts
// the messages of the INBOX, storing nothing: "Test connection". Its error
// is marked with its [receive.Reason].
func (s *Syncer) Test(ctx context.Context, connection receive.Connection) (receive.Count, error) {
	c, err := s.connect(ctx, connection, nil)
	if err != nil {
		return receive.Count{}, marked(err)
	}
	defer c.logout()
	return c.count()
}

// TestFolders is [Syncer.Test] that also lists the server's folders, in
// the one session: "Test connection" of a form that then offers the
// folders to choose.
func (s *Syncer) TestFolders(ctx context.Context, connection receive.Connection) (receive.Count, []Folder, error) {
	c, err := s.connect(ctx, connection, nil)
	if err != nil {
		return receive.Count{}, nil, marked(err)
	}
	defer c.logout()
	count, err := c.count()
	if err != nil {
		return count, nil, err
	}
	folders, err := c.folders()
	if err != nil {
		return count, nil, marked(err)
	}
	return count, folders, nil
}

// count is the INBOX's message count and size (when the server says it).
func (c *session) count() (receive.Count, error) {
	status, err := c.client.Status("INBOX", &imap.StatusOptions{NumMessages: true, Size: c.client.Caps().Has(imap.CapStatusSize)}).Wait()
	if err != nil {
		return receive.Count{}, marked(fmt.Errorf("status of INBOX: %w", err))
	}
	count := receive.Count{}
	if status.NumMessages != nil {
		count.Messages = int(*status.NumMessages)
	}
	if status.Size != nil {
		count.Size = *status.Size
	}
	return count, nil
}
