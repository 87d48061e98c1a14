package imapsync_test

import (
	"context"
	"testing"

	"pochta.dev/pochta/internal/imapsync"
	"pochta.dev/pochta/internal/receive"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/testpeer"
)

// BenchmarkLoginMechanisms measures one connection test (connect, log in,
// STATUS INBOX, LOGOUT) against Dovecot on loopback by password (LOGIN)
// and by bearer token (XOAUTH2, OAUTHBEARER; Dovecot asks the test's
// introspection endpoint on every login): docs/benchmarks.md.
func BenchmarkLoginMechanisms(b *testing.B) {
	provider := testpeer.StartOAuthServer(b, oauthUser)
	dovecot := testpeer.DovecotOAuth(b, provider.URL+"/introspect")
	dovecot.AddUser(oauthUser, "bench-password")
	syncer := imapsync.New(imapsync.Config{Dialer: servicetest.LoopbackDialer{}})
	token := provider.AccessToken(oauthUser)
	for _, bench := range []struct {
		name       string
		connection receive.Connection
	}{
		{"LOGIN", receive.Connection{Password: "bench-password"}},
		{"XOAUTH2", receive.Connection{Password: token, Mechanism: imapsync.MechanismXOAuth2}},
		{"OAUTHBEARER", receive.Connection{Password: token, Mechanism: imapsync.MechanismOAuthBearer}},
	} {
		b.Run(bench.name, func(b *testing.B) {
			connection := bench.connection
			connection.Server, connection.Port, connection.Security, connection.Login = "127.0.0.1", dovecot.IMAPPort, "none", oauthUser
			for b.Loop() {
				if _, err := syncer.Test(context.Background(), connection); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
