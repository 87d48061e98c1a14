package pop3

import "strings"

// Directions passed to [Options.Trace].
const (
	TraceConnect = "connect" // a connection was opened (line: address and security)
	TraceSend    = "send"    // a command sent to the server, secrets masked
	TraceRecv    = "recv"    // a reply line, or a summary of a multi-line body
	TraceError   = "error"   // an error that closed the connection
)

// masked is what secrets are replaced with in traces and errors.
const masked = "***"

// maskCommand returns the command line as it may be shown: the arguments of
// PASS, the digest of APOP and the credentials of AUTH (and any SASL
// continuation) are replaced with "***".
func maskCommand(line string) string {
	verb, rest, _ := strings.Cut(line, " ")
	switch strings.ToUpper(verb) {
	case "PASS":
		return verb + " " + masked
	case "APOP":
		user, _, _ := strings.Cut(rest, " ")
		return verb + " " + user + " " + masked
	case "AUTH":
		mech, _, _ := strings.Cut(rest, " ")
		return verb + " " + mech + " " + masked
	}
	return line
}

// trace reports a line to Options.Trace, if set.
func (c *Client) trace(direction, line string) {
	if c.opts.Trace != nil {
		c.opts.Trace(direction, line)
	}
}
