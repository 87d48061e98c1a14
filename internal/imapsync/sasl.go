package imapsync

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/emersion/go-sasl"
)

// The SASL mechanisms of mailboxes signed in with OAuth2
// (store.Mailbox.OAuthMechanism, receive.Connection.Mechanism).
const (
	MechanismXOAuth2     = "xoauth2"
	MechanismOAuthBearer = "oauthbearer"
)

// BearerError is the JSON error a server sends as its challenge when it
// refuses a bearer token (XOAUTH2 and OAUTHBEARER alike): its "status" is
// the HTTP-like reason ("400", "401", "invalid_token").
type BearerError struct {
	Status  string `json:"status"`
	Schemes string `json:"schemes"`
	Scope   string `json:"scope"`
}

func (e *BearerError) Error() string {
	return fmt.Sprintf("the server refused the access token (status %q)", e.Status)
}

// xoauth2Client is the client side of Google's and Microsoft's XOAUTH2
// mechanism, which go-sasl no longer has: one initial response
// "user=<login>^Aauth=Bearer <token>^A^A". A refused token is answered
// with a base64 JSON challenge, to which the client must send an empty
// response; the server then ends the command with NO.
type xoauth2Client struct {
	login, token string
	refused      *BearerError // the server's JSON error, when it sent one
}

func (c *xoauth2Client) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + c.login + "\x01auth=Bearer " + c.token + "\x01\x01"), nil
}

func (c *xoauth2Client) Next(challenge []byte) ([]byte, error) {
	refused := &BearerError{}
	if err := json.Unmarshal(challenge, refused); err != nil {
		refused.Status = "unreadable challenge"
	}
	c.refused = refused
	return []byte{}, nil
}

// oauthBearerClient is go-sasl's OAUTHBEARER client (RFC 7628) made to
// finish the exchange: go-sasl's returns the server's JSON error from Next
// without answering it, which would leave the command waiting for a
// response that never comes. RFC 7628 section 3.2.3 says to answer with a
// single ^A.
type oauthBearerClient struct {
	sasl.Client
	refused *BearerError
}

func (c *oauthBearerClient) Next(challenge []byte) ([]byte, error) {
	_, err := c.Client.Next(challenge)
	var bearer *sasl.OAuthBearerError
	if errors.As(err, &bearer) {
		c.refused = &BearerError{Status: bearer.Status, Schemes: bearer.Schemes, Scope: bearer.Scope}
	} else {
		c.refused = &BearerError{Status: "unreadable challenge"}
	}
	return []byte{0x01}, nil
}

// bearerClient gives the SASL client of an OAuth2 mechanism and a function
// telling the JSON error the server answered with, if any.
func bearerClient(mechanism, login, token, host string, port int) (sasl.Client, func() *BearerError, error) {
	switch mechanism {
	case MechanismXOAuth2:
		c := &xoauth2Client{login: login, token: token}
		return c, func() *BearerError { return c.refused }, nil
	case MechanismOAuthBearer:
		c := &oauthBearerClient{Client: sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: login, Token: token, Host: host, Port: port})}
		return c, func() *BearerError { return c.refused }, nil
	}
	return nil, nil, fmt.Errorf("unknown SASL mechanism %q", mechanism)
}
