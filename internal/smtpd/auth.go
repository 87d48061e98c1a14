package smtpd

import (
	"errors"

	"github.com/emersion/go-sasl"
)

// loginServer is the server side of AUTH LOGIN (draft-murchison-sasl-login),
// which go-sasl no longer has: "Username:" and "Password:" challenges, with
// the user name also taken as the initial response ("AUTH LOGIN dXNlcg==").
type loginServer struct {
	check    func(username, password string) error
	username []byte
	state    int
}

func newLoginServer(check func(username, password string) error) sasl.Server {
	return &loginServer{check: check}
}

var errLoginDone = errors.New("AUTH LOGIN: unexpected response")

func (s *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch s.state {
	case 0:
		s.state = 1
		if response == nil {
			return []byte("Username:"), false, nil
		}
		s.username = response
		s.state = 2
		return []byte("Password:"), false, nil
	case 1:
		s.username = response
		s.state = 2
		return []byte("Password:"), false, nil
	case 2:
		s.state = 3
		return nil, true, s.check(string(s.username), string(response))
	default:
		return nil, true, errLoginDone
	}
}
