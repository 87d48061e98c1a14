package service

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/worklog"
)

// MailServiceView is a mail service as the front ends show it.
type MailServiceView struct {
	ID            int64  `json:"id"`
	Site          string `json:"site"`
	Active        bool   `json:"active"`
	Name          string `json:"name"`
	Type          string `json:"type"`
	Server        string `json:"server"`
	Port          int    `json:"port"`
	Security      string `json:"security"`
	WebURL        string `json:"web_url"`
	Sort          int    `json:"sort"`
	SMTPServer    string `json:"smtp_server"`
	SMTPPort      int    `json:"smtp_port"`
	SMTPSameLogin bool   `json:"smtp_same_login"`
	Icon          string `json:"icon"`
	HasLogo       bool   `json:"has_logo"`
	// OAuth2 client settings; the secret is write-only (HasOAuthSecret
	// says whether one is stored). OAuth says whether employees sign in
	// through this service with OAuth2 instead of a password.
	OAuth          bool      `json:"oauth"`
	OAuthClientID  string    `json:"oauth_client_id"`
	HasOAuthSecret bool      `json:"has_oauth_client_secret"`
	OAuthAuthURL   string    `json:"oauth_auth_url"`
	OAuthTokenURL  string    `json:"oauth_token_url"`
	OAuthScopes    string    `json:"oauth_scopes"`
	OAuthMechanism string    `json:"oauth_mechanism"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// MailServiceInput creates or changes a mail service; nil fields stay (or
// take defaults on create).
type MailServiceInput struct {
	Site          *string `json:"site,omitempty"`
	Active        *bool   `json:"active,omitempty"`
	Name          *string `json:"name,omitempty"`
	Type          *string `json:"type,omitempty"`
	Server        *string `json:"server,omitempty"`
	Port          *int    `json:"port,omitempty"`
	Security      *string `json:"security,omitempty"`
	WebURL        *string `json:"web_url,omitempty"`
	Sort          *int    `json:"sort,omitempty"`
	SMTPServer    *string `json:"smtp_server,omitempty"`
	SMTPPort      *int    `json:"smtp_port,omitempty"`
	SMTPSameLogin *bool   `json:"smtp_same_login,omitempty"`
	Icon          *string `json:"icon,omitempty"`
	// OAuthPreset ("google", "microsoft", "yandex") fills the
	// authorisation and token URLs, the scopes and the mechanism of that
	// provider; fields given beside it win.
	OAuthPreset       *string `json:"oauth_preset,omitempty"`
	OAuthClientID     *string `json:"oauth_client_id,omitempty"`
	OAuthClientSecret *string `json:"oauth_client_secret,omitempty"` // write-only; "" keeps the stored one
	OAuthAuthURL      *string `json:"oauth_auth_url,omitempty"`
	OAuthTokenURL     *string `json:"oauth_token_url,omitempty"`
	OAuthScopes       *string `json:"oauth_scopes,omitempty"`
	OAuthMechanism    *string `json:"oauth_mechanism,omitempty"`
	// Logo and LogoType upload a logo; an empty non-nil Logo removes it.
	Logo     []byte `json:"-"`
	LogoType string `json:"-"`
}

// BuiltinIcons are the service icons shipped with Pochta.
var BuiltinIcons = []string{"gmail", "outlook", "icloud", "office365", "exchange", "yahoo", "aol", "yandex", "mailru", "other"}

// defaultMailServices is the list SPEC.md installs on every site; the
// Russian providers only on Russian-language sites.
var defaultMailServices = []struct {
	store.MailService
	russianOnly bool
}{
	{store.MailService{Name: "gmail", Server: "imap.gmail.com", Port: 993, WebURL: "https://mail.google.com/", SMTPServer: "smtp.gmail.com", SMTPPort: 587, Icon: "gmail", Sort: 10}, false},
	{store.MailService{Name: "outlook.com", Server: "imap-mail.outlook.com", Port: 993, WebURL: "https://outlook.live.com/mail/", SMTPServer: "smtp-mail.outlook.com", SMTPPort: 587, Icon: "outlook", Sort: 20}, false},
	{store.MailService{Name: "icloud", Server: "imap.mail.me.com", Port: 993, WebURL: "https://www.icloud.com/mail/", SMTPServer: "smtp.mail.me.com", SMTPPort: 587, Icon: "icloud", Sort: 30}, false},
	{store.MailService{Name: "office365", Server: "outlook.office365.com", Port: 993, WebURL: "https://outlook.office.com/mail/", SMTPServer: "smtp.office365.com", SMTPPort: 587, Icon: "office365", Sort: 40}, false},
	{store.MailService{Name: "exchange", Icon: "exchange", Sort: 50}, false},
	{store.MailService{Name: "yahoo", Server: "imap.mail.yahoo.com", Port: 993, WebURL: "https://mail.yahoo.com/", SMTPServer: "smtp.mail.yahoo.com", SMTPPort: 465, Icon: "yahoo", Sort: 60}, false},
	{store.MailService{Name: "aol", Server: "imap.aol.com", Port: 993, WebURL: "https://mail.aol.com/", SMTPServer: "smtp.aol.com", SMTPPort: 465, Icon: "aol", Sort: 70}, false},
	{store.MailService{Name: "yandex", Server: "imap.yandex.ru", Port: 993, WebURL: "https://mail.yandex.ru/", SMTPServer: "smtp.yandex.ru", SMTPPort: 465, Icon: "yandex", Sort: 80}, true},
	{store.MailService{Name: "mail.ru", Server: "imap.mail.ru", Port: 993, WebURL: "https://e.mail.ru/", SMTPServer: "smtp.mail.ru", SMTPPort: 465, Icon: "mailru", Sort: 90}, true},
	{store.MailService{Name: "other", Icon: "other", Sort: 1000, IsOther: true}, false},
}

// installLanguageMailServices adds to a site whose language changed from
// English the providers offered only in Russian, before "other".
func (s *Service) installLanguageMailServices(ctx context.Context, site store.Site) error {
	if site.Language != "ru" {
		return nil
	}
	return s.installMailServices(ctx, site, func(russianOnly bool) bool { return russianOnly })
}

// installDefaultMailServices gives a new site the default provider list.
func (s *Service) installDefaultMailServices(ctx context.Context, site store.Site) error {
	return s.installMailServices(ctx, site, func(russianOnly bool) bool { return !russianOnly || site.Language == "ru" })
}

// installMailServices adds to a site the default providers that keep
// says yes to (given whether the provider is offered only in Russian).
func (s *Service) installMailServices(ctx context.Context, site store.Site, keep func(russianOnly bool) bool) error {
	for _, preset := range defaultMailServices {
		if !keep(preset.russianOnly) {
			continue
		}
		m := preset.MailService
		m.SiteID, m.Active, m.Type, m.Security, m.SMTPSameLogin = site.ID, true, store.MailboxIMAP, "tls", true
		if err := s.store.CreateMailService(ctx, &m); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) mailServiceView(ctx context.Context, m store.MailService) MailServiceView {
	view := MailServiceView{ID: m.ID, Active: m.Active, Name: m.Name, Type: m.Type, Server: m.Server, Port: m.Port,
		Security: m.Security, WebURL: m.WebURL, Sort: m.Sort, SMTPServer: m.SMTPServer, SMTPPort: m.SMTPPort,
		SMTPSameLogin: m.SMTPSameLogin, Icon: m.Icon, HasLogo: m.LogoType != "", CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
		OAuth: m.OAuthClientID != "", OAuthClientID: m.OAuthClientID, HasOAuthSecret: len(m.OAuthSecretSealed) > 0,
		OAuthAuthURL: m.OAuthAuthURL, OAuthTokenURL: m.OAuthTokenURL, OAuthScopes: m.OAuthScopes, OAuthMechanism: m.OAuthMechanism}
	if site, err := s.store.SiteByID(ctx, m.SiteID); err == nil {
		view.Site = site.Code
	}
	return view
}

// MailServices lists mail services. Everyone signed in may read them: users
// pick one when they connect their mailbox; users see only active ones of
// their own site.
func (s *Service) MailServices(ctx context.Context, actor *Actor, filter store.MailServiceFilter) ([]MailServiceView, error) {
	if actor == nil {
		return nil, ErrForbidden
	}
	if !actor.CanReadAll() {
		active := true
		filter.SiteID, filter.Active = actor.User.SiteID, &active
	}
	list, err := s.store.MailServices(ctx, filter)
	if err != nil {
		return nil, err
	}
	views := make([]MailServiceView, 0, len(list))
	for _, m := range list {
		views = append(views, s.mailServiceView(ctx, m))
	}
	return views, nil
}

// MailService finds one mail service.
func (s *Service) MailService(ctx context.Context, actor *Actor, id int64) (MailServiceView, error) {
	list, err := s.MailServices(ctx, actor, store.MailServiceFilter{ID: id})
	if err != nil {
		return MailServiceView{}, err
	}
	if len(list) == 0 {
		return MailServiceView{}, ErrNotFound
	}
	return list[0], nil
}

func validPort(port int) bool { return port >= 1 && port <= 65535 }

func validWebURL(text string) bool {
	parsed, err := url.Parse(text)
	return err == nil && (parsed.Scheme == "http" || parsed.Scheme == "https") && parsed.Host != ""
}

func (s *Service) applyMailServiceInput(ctx context.Context, m *store.MailService, input MailServiceInput, errs fieldErrors) {
	if input.Site != nil {
		site, err := s.store.SiteByCode(ctx, strings.TrimSpace(*input.Site))
		if err != nil {
			errs.add("site", "error.unknown_site", i18n.Key("field.site"))
		} else {
			m.SiteID = site.ID
		}
	}
	if m.SiteID == 0 {
		errs.add("site", "error.required", i18n.Key("field.site"))
	}
	if input.Active != nil {
		m.Active = *input.Active
	}
	setText(&m.Name, input.Name)
	if m.Name == "" {
		errs.add("name", "error.required", i18n.Key("field.name"))
	} else {
		tooLong(errs, "name", i18n.Key("field.name"), m.Name, MaxNameLength)
	}
	setText(&m.Type, input.Type)
	if m.Type != store.MailboxIMAP {
		errs.add("type", "error.invalid", i18n.Key("field.type"))
	}
	setText(&m.Server, input.Server)
	if input.Port != nil {
		m.Port = *input.Port
	}
	checkServer(errs, "server", i18n.Key("field.server"), &m.Server, "error.host", false)
	if (m.Server != "" || m.Port != 0) && !validPort(m.Port) {
		errs.add("port", "error.range", i18n.Key("field.port"), 1, 65535)
	}
	setText(&m.Security, input.Security)
	switch m.Security {
	case "", "tls", "starttls", "none":
	default:
		errs.add("security", "error.invalid", i18n.Key("field.security"))
	}
	setText(&m.WebURL, input.WebURL)
	if m.WebURL != "" && !tooLong(errs, "web_url", i18n.Key("field.web_url"), m.WebURL, MaxWebURLLength) && !validWebURL(m.WebURL) {
		errs.add("web_url", "error.url", i18n.Key("field.web_url"))
	}
	if input.Sort != nil {
		m.Sort = *input.Sort
	}
	setText(&m.SMTPServer, input.SMTPServer)
	checkServer(errs, "smtp_server", i18n.Key("field.smtp_server"), &m.SMTPServer, "error.host", false)
	if input.SMTPPort != nil {
		m.SMTPPort = *input.SMTPPort
	}
	if (m.SMTPServer != "" || m.SMTPPort != 0) && !validPort(m.SMTPPort) {
		errs.add("smtp_port", "error.range", i18n.Key("field.smtp_port"), 1, 65535)
	}
	if input.SMTPSameLogin != nil {
		m.SMTPSameLogin = *input.SMTPSameLogin
	}
	setText(&m.Icon, input.Icon)
	if m.Icon != "" && !contains(BuiltinIcons, m.Icon) {
		errs.add("icon", "error.invalid", i18n.Key("field.icon"))
	}
	s.applyOAuthClientInput(m, input, errs)
	if input.Logo != nil {
		m.Logo, m.LogoType = input.Logo, input.LogoType
		if len(input.Logo) == 0 {
			m.Logo, m.LogoType = nil, ""
		} else if len(input.Logo) > 256<<10 || !strings.HasPrefix(input.LogoType, "image/") || input.LogoType == "image/svg+xml" {
			// SVG can carry script; a raster image under 256 KB is enough
			// for a 32-pixel logo.
			errs.add("logo", "error.logo", i18n.Key("field.logo"))
		}
	}
}

func contains(list []string, item string) bool {
	for _, candidate := range list {
		if candidate == item {
			return true
		}
	}
	return false
}

// CreateMailService adds a mail service. Only admins may.
func (s *Service) CreateMailService(ctx context.Context, actor *Actor, input MailServiceInput) (MailServiceView, error) {
	if err := requireAdmin(actor); err != nil {
		return MailServiceView{}, err
	}
	m := store.MailService{Active: true, Type: store.MailboxIMAP, Sort: 100, Security: "tls", SMTPSameLogin: true}
	errs := fieldErrors{}
	s.applyMailServiceInput(ctx, &m, input, errs)
	if err := errs.err(); err != nil {
		return MailServiceView{}, err
	}
	if err := s.store.CreateMailService(ctx, &m); err != nil {
		return MailServiceView{}, err
	}
	s.audit(ctx, actor, "mail service created", "service", m.Name, "service_id", m.ID)
	return s.mailServiceView(ctx, m), nil
}

// UpdateMailService changes a mail service and carries the change to its
// mailboxes: connection fields are copied into each; when the service is
// deactivated or moved to another site, its mailboxes move to their site's
// "other" service, or are deactivated when there is none.
func (s *Service) UpdateMailService(ctx context.Context, actor *Actor, id int64, input MailServiceInput) (MailServiceView, error) {
	if err := requireAdmin(actor); err != nil {
		return MailServiceView{}, err
	}
	m, err := s.store.MailServiceByID(ctx, id)
	if err != nil {
		return MailServiceView{}, wrapNotFound("mail service", err)
	}
	wasActive, oldSite := m.Active, m.SiteID
	errs := fieldErrors{}
	s.applyMailServiceInput(ctx, &m, input, errs)
	if err := errs.err(); err != nil {
		return MailServiceView{}, err
	}
	if (wasActive && !m.Active) || oldSite != m.SiteID {
		if err := s.rebindToOther(ctx, m.ID, oldSite); err != nil {
			return MailServiceView{}, err
		}
	}
	if err := s.store.UpdateMailService(ctx, &m, input.Logo == nil); err != nil {
		return MailServiceView{}, err
	}
	s.audit(ctx, actor, "mail service saved", "service", m.Name, "service_id", m.ID, "active", m.Active)
	return s.mailServiceView(ctx, m), nil
}

// rebindToOther moves the mailboxes of a service to its site's active
// "other" service (not itself), or deactivates them.
func (s *Service) rebindToOther(ctx context.Context, serviceID, siteID int64) error {
	active := true
	candidates, err := s.store.MailServices(ctx, store.MailServiceFilter{SiteID: siteID, Active: &active})
	if err != nil {
		return err
	}
	var target *store.MailService
	for i := range candidates {
		if candidates[i].IsOther && candidates[i].ID != serviceID {
			target = &candidates[i]
			break
		}
	}
	moved, err := s.store.RebindMailboxes(ctx, serviceID, target)
	if err != nil {
		return err
	}
	if moved > 0 {
		part := worklog.Part("log.service_mailboxes_off", serviceID, moved)
		if target != nil {
			part = worklog.Part("log.service_mailboxes_moved", serviceID, moved, target.Name)
		}
		s.log.Record(ctx, worklog.Say(store.LogEntry{Level: store.LevelInfo, Type: "service"}, part))
	}
	return nil
}

// DeleteMailService removes a mail service after rebinding its mailboxes.
func (s *Service) DeleteMailService(ctx context.Context, actor *Actor, id int64) error {
	if err := requireAdmin(actor); err != nil {
		return err
	}
	m, err := s.store.MailServiceByID(ctx, id)
	if err != nil {
		return wrapNotFound("mail service", err)
	}
	if err := s.rebindToOther(ctx, m.ID, m.SiteID); err != nil {
		return err
	}
	err = s.store.DeleteMailService(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return wrapNotFound("mail service", err)
	}
	if err != nil {
		return err
	}
	s.audit(ctx, actor, "mail service deleted", "service", m.Name, "service_id", m.ID)
	return nil
}

// MailServiceLogo gives an uploaded logo.
func (s *Service) MailServiceLogo(ctx context.Context, actor *Actor, id int64) ([]byte, string, error) {
	if _, err := s.MailService(ctx, actor, id); err != nil {
		return nil, "", err
	}
	return s.store.MailServiceLogo(ctx, id)
}
