package pop3

import (
	"crypto/x509"
	"errors"
	"fmt"
	"testing"
)

// A failed handshake says "tls:" once: crypto/tls's own errors start with
// it ("tls: tls: failed to verify" was what a reader saw).
func TestHandshakeErrorSaysTLSOnce(t *testing.T) {
	verify := &x509.UnknownAuthorityError{}
	for _, test := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("tls: failed to verify certificate: %w", verify), "tls: failed to verify certificate: x509: certificate signed by unknown authority"},
		{errors.New("remote error: handshake failure"), "tls: remote error: handshake failure"},
	} {
		err := error(handshakeError{test.err})
		if err.Error() != test.want {
			t.Errorf("%q, want %q", err.Error(), test.want)
		}
		if !errors.Is(err, ErrTLS) || !errors.Is(err, test.err) {
			t.Errorf("%v does not wrap ErrTLS and its cause", err)
		}
	}
	if !errors.As(handshakeError{fmt.Errorf("tls: x: %w", verify)}, new(*x509.UnknownAuthorityError)) {
		t.Error("the certificate error is lost")
	}
}
