package service

import (
	"net"
	"net/url"
	"strings"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/store"
)

// The SASL mechanisms a mailbox signed in with OAuth2 logs in with.
const (
	MechanismXOAuth2     = "xoauth2"     // Google's and Microsoft's (user=...^Aauth=Bearer ...^A^A)
	MechanismOAuthBearer = "oauthbearer" // RFC 7628
)

// OAuthPreset is a provider's OAuth2 endpoints and IMAP scopes, which the
// services form and API fill in when asked ("oauth_preset").
type OAuthPreset struct {
	Name      string
	AuthURL   string
	TokenURL  string
	Scopes    string
	Mechanism string
}

// OAuthPresets are the providers SPEC.md says need OAuth2 in practice. The
// scopes ask for IMAP, a refresh token (Microsoft's offline_access; Google
// gives one with access_type=offline, added by the flow) and, where the
// provider has OpenID Connect, an ID token with the address to log in as.
var OAuthPresets = []OAuthPreset{
	{Name: "google", AuthURL: "https://accounts.google.com/o/oauth2/v2/auth", TokenURL: "https://oauth2.googleapis.com/token",
		Scopes: "https://mail.google.com/ openid email", Mechanism: MechanismXOAuth2},
	{Name: "microsoft", AuthURL: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
		TokenURL: "https://login.microsoftonline.com/common/oauth2/v2.0/token",
		Scopes:   "https://outlook.office.com/IMAP.AccessAsUser.All offline_access openid email", Mechanism: MechanismXOAuth2},
	// Yandex has no ID token: its users type their address.
	{Name: "yandex", AuthURL: "https://oauth.yandex.ru/authorize", TokenURL: "https://oauth.yandex.ru/token",
		Scopes: "mail:imap_full", Mechanism: MechanismXOAuth2},
}

// MaxOAuthClientIDLength and the others bound the OAuth2 client fields:
// Google's client IDs are about 75 characters, Microsoft's are GUIDs.
const (
	MaxOAuthClientIDLength     = 500
	MaxOAuthClientSecretLength = 1024
	MaxOAuthScopesLength       = 1000
)

func oauthPreset(name string) (OAuthPreset, bool) {
	for _, preset := range OAuthPresets {
		if preset.Name == name {
			return preset, true
		}
	}
	return OAuthPreset{}, false
}

// applyOAuthClientInput checks and applies the OAuth2 client fields of a
// mail service. An empty client ID turns OAuth2 off and forgets the rest.
func (s *Service) applyOAuthClientInput(m *store.MailService, input MailServiceInput, errs fieldErrors) {
	if input.OAuthPreset != nil && *input.OAuthPreset != "" {
		preset, ok := oauthPreset(strings.TrimSpace(*input.OAuthPreset))
		if !ok {
			errs.add("oauth_preset", "error.invalid", i18n.Key("field.oauth_preset"))
		} else {
			m.OAuthAuthURL, m.OAuthTokenURL, m.OAuthScopes, m.OAuthMechanism = preset.AuthURL, preset.TokenURL, preset.Scopes, preset.Mechanism
			// A form sends every field, empty ones too: beside a preset
			// only what was typed wins.
			for _, field := range []**string{&input.OAuthAuthURL, &input.OAuthTokenURL, &input.OAuthScopes, &input.OAuthMechanism} {
				if *field != nil && strings.TrimSpace(**field) == "" {
					*field = nil
				}
			}
		}
	}
	setText(&m.OAuthClientID, input.OAuthClientID)
	setText(&m.OAuthAuthURL, input.OAuthAuthURL)
	setText(&m.OAuthTokenURL, input.OAuthTokenURL)
	setText(&m.OAuthScopes, input.OAuthScopes)
	m.OAuthScopes = strings.Join(strings.Fields(m.OAuthScopes), " ")
	setText(&m.OAuthMechanism, input.OAuthMechanism)
	if input.OAuthClientSecret != nil && *input.OAuthClientSecret != "" {
		secret := *input.OAuthClientSecret
		// The secret travels in a form body (client_secret_post) or a
		// Basic header: a line break would be a header's end.
		if !tooLong(errs, "oauth_client_secret", i18n.Key("field.oauth_client_secret"), secret, MaxOAuthClientSecretLength) &&
			!breaksLine(errs, "oauth_client_secret", i18n.Key("field.oauth_client_secret"), secret) {
			sealed, err := s.box.Seal(secret)
			if err != nil {
				errs.add("oauth_client_secret", "error.invalid", i18n.Key("field.oauth_client_secret"))
			} else {
				m.OAuthSecretSealed = sealed
			}
		}
	}
	if m.OAuthClientID == "" {
		// Nothing set is OAuth2 off; a preset or URLs without a client are
		// an admin half-way through, told which field is missing.
		if m.OAuthAuthURL != "" || m.OAuthTokenURL != "" || (input.OAuthClientSecret != nil && *input.OAuthClientSecret != "") {
			errs.add("oauth_client_id", "error.required", i18n.Key("field.oauth_client_id"))
		}
		if m.OAuthAuthURL == "" && m.OAuthTokenURL == "" {
			m.OAuthSecretSealed, m.OAuthScopes, m.OAuthMechanism = nil, "", ""
		}
		return
	}
	if !tooLong(errs, "oauth_client_id", i18n.Key("field.oauth_client_id"), m.OAuthClientID, MaxOAuthClientIDLength) {
		breaksLine(errs, "oauth_client_id", i18n.Key("field.oauth_client_id"), m.OAuthClientID)
	}
	checkOAuthURL(errs, "oauth_auth_url", i18n.Key("field.oauth_auth_url"), m.OAuthAuthURL)
	checkOAuthURL(errs, "oauth_token_url", i18n.Key("field.oauth_token_url"), m.OAuthTokenURL)
	if !tooLong(errs, "oauth_scopes", i18n.Key("field.oauth_scopes"), m.OAuthScopes, MaxOAuthScopesLength) && !validScopes(m.OAuthScopes) {
		errs.add("oauth_scopes", "error.oauth_scopes", i18n.Key("field.oauth_scopes"))
	}
	if m.OAuthMechanism == "" {
		m.OAuthMechanism = MechanismXOAuth2
	}
	if m.OAuthMechanism != MechanismXOAuth2 && m.OAuthMechanism != MechanismOAuthBearer {
		errs.add("oauth_mechanism", "error.invalid", i18n.Key("field.oauth_mechanism"))
	}
}

// checkOAuthURL requires an https URL without credentials or fragment. The
// authorisation URL is opened by the employee's browser, the token URL is
// fetched by Pochta with the client secret and the user's codes and
// refresh tokens in the body: over plain http they would be readable on
// the way. Plain http is taken for a loopback host only, where nothing
// travels over a network (a test's own authorisation server); the token
// URL is fetched through netguard, so a loopback one works only when the
// admin allows loopback in "allowed networks".
func checkOAuthURL(errs fieldErrors, field string, label i18n.Key, text string) {
	if text == "" {
		errs.add(field, "error.required", label)
		return
	}
	if tooLong(errs, field, label, text, MaxWebURLLength) {
		return
	}
	parsed, err := url.Parse(text)
	if err != nil || parsed.Host == "" || parsed.User != nil || parsed.Fragment != "" || !strings.HasPrefix(text, parsed.Scheme+"://") {
		errs.add(field, "error.url", label)
		return
	}
	switch parsed.Scheme {
	case "https":
	case "http":
		if !loopbackHost(parsed.Hostname()) {
			errs.add(field, "error.oauth_https", label)
		}
	default:
		errs.add(field, "error.oauth_https", label)
	}
}

// loopbackHost reports whether host names this machine without DNS: a
// loopback address or "localhost".
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validScopes reports whether scopes is a space-separated list of RFC 6749
// scope tokens (printable ASCII but space, '"' and '\').
func validScopes(scopes string) bool {
	for _, c := range scopes {
		if c == ' ' {
			continue
		}
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
