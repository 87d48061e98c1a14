package imapsync_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pochta.dev/pochta/internal/imapsync"
	"pochta.dev/pochta/internal/receive"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
)

// oauthFixture is a Dovecot whose oauth2 passdb asks the introspection
// endpoint of an authorisation server of the test's own, and Pochta with a
// mail service whose OAuth2 client is that server.
type oauthFixture struct {
	provider  *testpeer.OAuthServer
	dovecot   *testpeer.DovecotServer
	env       *servicetest.Env
	serviceID int64
	owner     *service.Actor
	session   service.WebSession
}

const oauthUser = "bob@example.test"

func newOAuthFixture(t *testing.T, mechanism string) *oauthFixture {
	t.Helper()
	ctx := context.Background()
	provider := testpeer.StartOAuthServer(t, oauthUser)
	dovecot := testpeer.DovecotOAuth(t, provider.URL+"/introspect")
	dovecot.AddUser(oauthUser, "unused-password")
	dovecot.AddUser("eve@example.test", "unused-password")
	env := servicetest.New(t)
	// The token URL is on loopback: fetched through netguard, it needs
	// the admin's leave.
	if _, err := env.Service.UpdateSettings(ctx, env.Admin, service.SettingsInput{AllowedNetworks: &[]string{"127.0.0.1/32"}}); err != nil {
		t.Fatal(err)
	}
	site, err := env.Store.SiteByID(ctx, env.Admin.User.SiteID)
	if err != nil {
		t.Fatal(err)
	}
	port, security, name := dovecot.IMAPPort, "none", "Test provider"
	view, err := env.Service.CreateMailService(ctx, env.Admin, service.MailServiceInput{Site: &site.Code, Name: &name,
		Server: &dovecot.Host, Port: &port, Security: &security, OAuthClientID: &provider.ClientID,
		OAuthClientSecret: &provider.ClientSecret, OAuthAuthURL: ptr(provider.URL + "/authorize"),
		OAuthTokenURL: ptr(provider.URL + "/token"), OAuthScopes: ptr("imap openid email"), OAuthMechanism: &mechanism})
	if err != nil {
		t.Fatal(err)
	}
	owner := env.AddUser(t, "bob", "bob-password-1", "user")
	session, err := env.Service.StartSession(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	return &oauthFixture{provider: provider, dovecot: dovecot, env: env, serviceID: view.ID, owner: owner, session: session}
}

func ptr[T any](v T) *T { return &v }

const redirectURL = "http://127.0.0.1:1/my/oauth/callback"

// signIn runs the flow as the browser would: start, consent, callback.
func (f *oauthFixture) signIn(t *testing.T, session service.WebSession, start service.OAuthStart) (int64, error) {
	t.Helper()
	start.RedirectURL = redirectURL
	if start.ServiceID == 0 && start.MailboxID == 0 {
		start.ServiceID = f.serviceID
	}
	address, err := f.env.Service.StartOAuth(context.Background(), &session, start)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	back := f.consent(t, address)
	return f.env.Service.FinishOAuth(context.Background(), &session, service.OAuthCallback{State: back.Get("state"), Code: back.Get("code")})
}

// consent gives the callback's query after the user allowed.
func (f *oauthFixture) consent(t *testing.T, address string) url.Values {
	t.Helper()
	parsed, err := url.Parse(address)
	if err != nil {
		t.Fatal(err)
	}
	q := parsed.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("state") == "" {
		t.Fatalf("authorisation URL without PKCE S256 or state: %s", address)
	}
	redirect, err := f.provider.Authorize(address)
	if err != nil {
		t.Fatal(err)
	}
	back, err := url.Parse(redirect)
	if err != nil {
		t.Fatal(err)
	}
	return back.Query()
}

func (f *oauthFixture) deliver(t *testing.T, n int, subject string) {
	t.Helper()
	if err := f.dovecot.Deliver(oauthUser, mail(n, subject)); err != nil {
		t.Fatal(err)
	}
}

func (f *oauthFixture) check(t *testing.T, id int64) service.CheckResult {
	t.Helper()
	result, err := f.env.Service.CheckMailbox(context.Background(), f.owner, id)
	if err != nil {
		t.Fatal(err)
	}
	return result
}

// The IMAP login alone, by both mechanisms, with a good and a bad token.
func TestOAuthLoginAgainstDovecot(t *testing.T) {
	for _, mechanism := range []string{imapsync.MechanismXOAuth2, imapsync.MechanismOAuthBearer} {
		t.Run(mechanism, func(t *testing.T) {
			provider := testpeer.StartOAuthServer(t, oauthUser)
			dovecot := testpeer.DovecotOAuth(t, provider.URL+"/introspect")
			dovecot.AddUser(oauthUser, "unused-password")
			if err := dovecot.Deliver(oauthUser, mail(1, "Over OAuth")); err != nil {
				t.Fatal(err)
			}
			syncer := imapsync.New(imapsync.Config{Dialer: servicetest.LoopbackDialer{}})
			connection := receive.Connection{Server: "127.0.0.1", Port: dovecot.IMAPPort, Security: "none", Login: oauthUser,
				Password: provider.AccessToken(oauthUser), Mechanism: mechanism}
			count, err := syncer.Test(context.Background(), connection)
			if err != nil || count.Messages != 1 {
				t.Fatalf("test with a good token: %+v, %v\n%s", count, err, dovecot.Log())
			}
			connection.Password = "not-a-token"
			_, err = syncer.Test(context.Background(), connection)
			if !errors.Is(err, imapsync.ErrLogin) || receive.ReasonOf(err) != receive.Login {
				t.Fatalf("test with a bad token: %v (reason %q), want a refused login", err, receive.ReasonOf(err))
			}
			// A token issued for another user does not open this one.
			connection.Password = provider.AccessToken("eve@example.test")
			if _, err := syncer.Test(context.Background(), connection); !errors.Is(err, imapsync.ErrLogin) {
				t.Fatalf("test with another user's token: %v, want a refused login", err)
			}
		})
	}
}

// The flow creates the user's mailbox; its mail arrives; tokens near their
// expiry are refreshed and the rotated refresh token stored; a revoked
// grant says "sign in again", and signing in again mends the mailbox.
func TestOAuthFlowEndToEnd(t *testing.T) {
	for _, mechanism := range []string{imapsync.MechanismXOAuth2, imapsync.MechanismOAuthBearer} {
		t.Run(mechanism, func(t *testing.T) {
			ctx := context.Background()
			f := newOAuthFixture(t, mechanism)
			f.deliver(t, 1, "First over OAuth")
			id, err := f.signIn(t, f.session, service.OAuthStart{})
			if err != nil {
				t.Fatal(err)
			}
			view, err := f.env.Service.Mailbox(ctx, f.owner, id)
			if err != nil {
				t.Fatal(err)
			}
			if view.Login != oauthUser || !view.OAuth || view.HasPassword || view.SignInAgain || view.CheckInterval != 10 {
				t.Fatalf("mailbox made by the flow: %+v", view)
			}
			if result := f.check(t, id); result.Error != "" || result.Received != 1 {
				t.Fatalf("first check: %+v\n%s", result, f.dovecot.Log())
			}
			sealed, version, err := f.env.Store.MailboxOAuthToken(ctx, id)
			if err != nil || version != 1 || strings.Contains(string(sealed), "access") {
				t.Fatalf("stored token: version %d, %v (sealed, not plain: %v)", version, err, !strings.Contains(string(sealed), "access"))
			}

			// Tokens now live a minute, less than the margin: every use
			// refreshes, and each refresh spends the refresh token stored.
			f.provider.SetExpiresIn(time.Minute)
			f.signInAgainQuietly(t, id)
			_, before, _ := f.env.Store.MailboxOAuthToken(ctx, id)
			f.deliver(t, 2, "Second over OAuth")
			if result := f.check(t, id); result.Error != "" || result.Received != 1 {
				t.Fatalf("check with a refresh: %+v", result)
			}
			f.deliver(t, 3, "Third over OAuth")
			if result := f.check(t, id); result.Error != "" || result.Received != 1 {
				t.Fatalf("second check with a refresh (the rotated refresh token was stored): %+v", result)
			}
			_, after, _ := f.env.Store.MailboxOAuthToken(ctx, id)
			if f.provider.Refreshes() != 2 || after != before+2 {
				t.Fatalf("refreshes %d, token version %d -> %d; want 2 refreshes stored", f.provider.Refreshes(), before, after)
			}

			// Two processes refreshing at once: the rotation is not lost.
			var wait sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wait.Go(func() {
					_, errs[i] = f.env.Service.MailboxAccessToken(ctx, store.Mailbox{ID: id})
				})
			}
			wait.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("concurrent refresh %d: %v", i, err)
				}
			}
			f.deliver(t, 4, "After concurrent refreshes")
			if result := f.check(t, id); result.Error != "" || result.Received != 1 {
				t.Fatalf("check after concurrent refreshes (the stored refresh token must still be good): %+v", result)
			}

			// The grant is revoked: "sign in again", with the reason on
			// the mailbox.
			f.provider.Revoke(oauthUser)
			result := f.check(t, id)
			if result.Reason != receive.SignIn {
				t.Fatalf("check after revocation: %+v, want reason sign_in", result)
			}
			view, _ = f.env.Service.Mailbox(ctx, f.owner, id)
			if !view.SignInAgain || view.LastErrorReason != string(receive.SignIn) {
				t.Fatalf("mailbox after revocation: sign in again %v, reason %q", view.SignInAgain, view.LastErrorReason)
			}
			// One click: the flow for that mailbox mends it.
			again, err := f.signIn(t, f.session, service.OAuthStart{MailboxID: id})
			if err != nil || again != id {
				t.Fatalf("sign in again: %d, %v", again, err)
			}
			f.deliver(t, 5, "After signing in again")
			if result := f.check(t, id); result.Error != "" || result.Received != 1 {
				t.Fatalf("check after signing in again: %+v", result)
			}
			view, _ = f.env.Service.Mailbox(ctx, f.owner, id)
			if view.SignInAgain {
				t.Errorf("still 'sign in again' after signing in: %+v", view)
			}
		})
	}
}

// signInAgainQuietly renews a mailbox's grant so that its token has the
// provider's current lifetime.
func (f *oauthFixture) signInAgainQuietly(t *testing.T, id int64) {
	t.Helper()
	if again, err := f.signIn(t, f.session, service.OAuthStart{MailboxID: id}); err != nil || again != id {
		t.Fatalf("sign in again: %d, %v", again, err)
	}
}

// The state and PKCE: a callback works once, in the session that started
// it, with the state it was given; a code is worth nothing without the
// verifier Pochta keeps.
func TestOAuthStateAndPKCEAttacks(t *testing.T) {
	ctx := context.Background()
	f := newOAuthFixture(t, imapsync.MechanismXOAuth2)
	start := service.OAuthStart{ServiceID: f.serviceID, RedirectURL: redirectURL}
	address, err := f.env.Service.StartOAuth(ctx, &f.session, start)
	if err != nil {
		t.Fatal(err)
	}
	back := f.consent(t, address)
	failed := func(name string, session service.WebSession, callback service.OAuthCallback, key string) {
		t.Helper()
		_, err := f.env.Service.FinishOAuth(ctx, &session, callback)
		var failure *service.OAuthFailure
		if !errors.As(err, &failure) || failure.Key != key {
			t.Errorf("%s: %v, want %s", name, err, key)
		}
	}
	failed("wrong state", f.session, service.OAuthCallback{State: back.Get("state") + "x", Code: back.Get("code")}, "oauth.error_state")
	failed("no state", f.session, service.OAuthCallback{Code: back.Get("code")}, "oauth.error_state")
	// Another user's session with this user's state and code (an attacker
	// who got them): refused, and the state stays the owner's.
	eve := f.env.AddUser(t, "eve", "eve-password-1", "user")
	eveSession, err := f.env.Service.StartSession(ctx, eve)
	if err != nil {
		t.Fatal(err)
	}
	failed("state of another user's session", eveSession, service.OAuthCallback{State: back.Get("state"), Code: back.Get("code")}, "oauth.error_state")
	// So is another session of the same user (another browser).
	otherSession, err := f.env.Service.StartSession(ctx, f.owner)
	if err != nil {
		t.Fatal(err)
	}
	failed("state of another session", otherSession, service.OAuthCallback{State: back.Get("state"), Code: back.Get("code")}, "oauth.error_state")
	id, err := f.env.Service.FinishOAuth(ctx, &f.session, service.OAuthCallback{State: back.Get("state"), Code: back.Get("code")})
	if err != nil {
		t.Fatalf("the owner's own callback: %v", err)
	}
	failed("replayed state", f.session, service.OAuthCallback{State: back.Get("state"), Code: back.Get("code")}, "oauth.error_state")
	if _, err := f.env.Service.Mailbox(ctx, eve, id); !errors.Is(err, service.ErrNotFound) {
		t.Errorf("eve reads bob's mailbox: %v", err)
	}
	// Eve cannot start a sign-in again for bob's mailbox.
	if _, err := f.env.Service.StartOAuth(ctx, &eveSession, service.OAuthStart{MailboxID: id, RedirectURL: redirectURL}); !errors.Is(err, service.ErrNotFound) {
		t.Errorf("eve starts a sign-in for bob's mailbox: %v", err)
	}

	// A code caught on its way (a malicious app on the phone, a log)
	// cannot be exchanged without the verifier: the provider checks it
	// against the challenge Pochta sent.
	address, err = f.env.Service.StartOAuth(ctx, &f.session, start)
	if err != nil {
		t.Fatal(err)
	}
	stolen := f.consent(t, address)
	for _, verifier := range []string{"", "a-guessed-verifier-of-enough-length-to-pass-the-format-check"} {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {stolen.Get("code")}, "redirect_uri": {redirectURL},
			"client_id": {f.provider.ClientID}, "client_secret": {f.provider.ClientSecret}}
		if verifier != "" {
			form.Set("code_verifier", verifier)
		}
		response, err := http.PostForm(f.provider.URL+"/token", form)
		if err != nil {
			t.Fatal(err)
		}
		response.Body.Close()
		if response.StatusCode != http.StatusBadRequest {
			t.Errorf("exchange with verifier %q: %d, want 400", verifier, response.StatusCode)
		}
	}
	// The attempts spent the code (once only): the flow with the real
	// verifier now fails at the exchange, and says so.
	failed("code spent by the thief's attempts", f.session, service.OAuthCallback{State: stolen.Get("state"), Code: stolen.Get("code")}, "oauth.error_exchange")

	// The provider's refusal reaches the user as such.
	address, err = f.env.Service.StartOAuth(ctx, &f.session, start)
	if err != nil {
		t.Fatal(err)
	}
	parsed, _ := url.Parse(address)
	failed("access denied", f.session, service.OAuthCallback{State: parsed.Query().Get("state"), Error: "access_denied"}, "oauth.error_denied")

	// A service without a client, and another site's, cannot be used.
	if _, err := f.env.Service.StartOAuth(ctx, &f.session, service.OAuthStart{ServiceID: f.serviceID + 1000, RedirectURL: redirectURL}); !errors.Is(err, service.ErrNotFound) {
		t.Errorf("start with an unknown service: %v", err)
	}
	plain := firstPlainService(t, f)
	if _, err := f.env.Service.StartOAuth(ctx, &f.session, service.OAuthStart{ServiceID: plain, RedirectURL: redirectURL}); !errors.Is(err, service.ErrNotFound) {
		t.Errorf("start with a service without OAuth2: %v", err)
	}
	// A login that would break the XOAUTH2 string is refused.
	var invalid *service.ValidationError
	if _, err := f.env.Service.StartOAuth(ctx, &f.session, service.OAuthStart{ServiceID: f.serviceID, Login: "a\x01auth=Bearer x", RedirectURL: redirectURL}); !errors.As(err, &invalid) {
		t.Errorf("start with a ^A in the login: %v", err)
	}
}

func firstPlainService(t *testing.T, f *oauthFixture) int64 {
	t.Helper()
	list, err := f.env.Service.MailServices(context.Background(), f.owner, store.MailServiceFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if !s.OAuth {
			return s.ID
		}
	}
	t.Fatal("no service without OAuth2")
	return 0
}

// A provider without an ID token: the address the user typed is the login;
// without one the flow asks for it.
func TestOAuthAddressAskedFor(t *testing.T) {
	f := newOAuthFixture(t, imapsync.MechanismXOAuth2)
	f.provider.SetNoIDToken(true)
	_, err := f.signIn(t, f.session, service.OAuthStart{})
	var failure *service.OAuthFailure
	if !errors.As(err, &failure) || failure.Key != "oauth.error_no_address" || failure.ServiceID != f.serviceID {
		t.Fatalf("no address: %v", err)
	}
	id, err := f.signIn(t, f.session, service.OAuthStart{Login: oauthUser})
	if err != nil {
		t.Fatal(err)
	}
	view, err := f.env.Service.Mailbox(context.Background(), f.owner, id)
	if err != nil || view.Login != oauthUser {
		t.Fatalf("mailbox: %+v, %v", view, err)
	}
	// Signing in again to the same account renews it rather than making a
	// second mailbox.
	again, err := f.signIn(t, f.session, service.OAuthStart{Login: strings.ToUpper(oauthUser)})
	if err != nil || again != id {
		t.Fatalf("second sign-in to the same account: %d, %v; want mailbox %s", again, err, strconv.FormatInt(id, 10))
	}
}

// Signing in again with another account than the mailbox's is refused:
// its token would go with the mailbox's login and be refused by the server.
func TestOAuthSignInAgainWithAnotherAccount(t *testing.T) {
	f := newOAuthFixture(t, imapsync.MechanismXOAuth2)
	id, err := f.signIn(t, f.session, service.OAuthStart{})
	if err != nil {
		t.Fatal(err)
	}
	f.provider.SetUser("eve@example.test")
	_, err = f.signIn(t, f.session, service.OAuthStart{MailboxID: id})
	var failure *service.OAuthFailure
	if !errors.As(err, &failure) || failure.Key != "oauth.error_wrong_account" || failure.MailboxID != id {
		t.Fatalf("another account: %v", err)
	}
	f.provider.SetUser(oauthUser)
	if again, err := f.signIn(t, f.session, service.OAuthStart{MailboxID: id}); err != nil || again != id {
		t.Fatalf("the mailbox's own account: %d, %v", again, err)
	}
}

// The token URL is fetched through netguard: on loopback, it is refused
// unless the admin allows the network, whatever the service says.
func TestOAuthTokenURLGuarded(t *testing.T) {
	ctx := context.Background()
	f := newOAuthFixture(t, imapsync.MechanismXOAuth2)
	if _, err := f.env.Service.UpdateSettings(ctx, f.env.Admin, service.SettingsInput{AllowedNetworks: &[]string{}}); err != nil {
		t.Fatal(err)
	}
	_, err := f.signIn(t, f.session, service.OAuthStart{})
	var failure *service.OAuthFailure
	if !errors.As(err, &failure) || failure.Key != "oauth.error_exchange" || !strings.Contains(err.Error(), "blocked") && !strings.Contains(err.Error(), "not allowed") {
		t.Fatalf("exchange with a loopback token URL not allowed: %v", err)
	}
}
