package service

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/store"
)

// applyMailboxInput copies input onto m and checks every rule of SPEC.md
// "Mailboxes": the same for the web form and the API. A value for a
// connection field that m's type does not have is refused (an empty or
// default one is let through, so that what a GET returns can be sent
// back), and such fields are stored empty, so that a stored mailbox never
// carries settings its type ignores (the "Additional" limits and the
// charset are kept for every type: retention and charset apply to IMAP
// mail too).
func (s *Service) applyMailboxInput(ctx context.Context, actor *Actor, m *store.Mailbox, input MailboxInput, creating bool) error {
	errs := fieldErrors{}
	refuseInapplicable(m.Type, input, errs)
	if input.Site != nil {
		site, err := s.store.SiteByCode(ctx, strings.TrimSpace(*input.Site))
		if err != nil {
			errs.add("site", "error.unknown_site", i18n.Key("field.site"))
		} else {
			m.SiteID = site.ID
		}
	} else if creating && m.SiteID == 0 {
		if site, err := s.DefaultSite(ctx); err == nil {
			m.SiteID = site.ID
		}
	}
	if m.SiteID == 0 {
		errs.add("site", "error.required", i18n.Key("field.site"))
	}
	setBool(&m.Active, input.Active)
	setText(&m.Name, input.Name)
	if m.Name == "" {
		errs.add("name", "error.required", i18n.Key("field.name"))
	} else {
		tooLong(errs, "name", i18n.Key("field.name"), m.Name, MaxNameLength)
	}
	setText(&m.Description, input.Description)
	tooLong(errs, "description", i18n.Key("field.description"), m.Description, MaxDescriptionLength)
	setText(&m.Server, input.Server)
	setInt(&m.Port, input.Port)
	setText(&m.Security, input.Security)
	setBool(&m.VerifyCert, input.VerifyCert)
	setText(&m.Login, input.Login)
	checkProtocolText(errs, "login", i18n.Key("field.login"), m.Login, MaxMailboxLoginLength)
	if input.Password != nil && *input.Password != "" {
		// Checked before it is sealed; never said back, not even in part.
		password := *input.Password
		checkProtocolText(errs, "password", i18n.Key("field.password"), password, MaxPasswordLength)
		if _, refused := errs["password"]; !refused {
			sealed, err := s.box.Seal(password)
			if err != nil {
				return err
			}
			m.PasswordSealed = sealed
		}
	}
	setBool(&m.APOP, input.APOP)
	setBool(&m.DeleteFromServer, input.DeleteFromServer)
	setInt(&m.CheckInterval, input.CheckInterval)
	if input.Domains != nil {
		m.Domains = normaliseList(*input.Domains, true)
	}
	setBool(&m.Relay, input.Relay)
	setBool(&m.RelayAuthOnly, input.RelayAuthOnly)
	setInt(&m.MaxMessages, input.MaxMessages)
	setInt(&m.MaxMessageSizeKB, input.MaxMessageSizeKB)
	setInt(&m.KeepDays, input.KeepDays)
	setText(&m.Charset, input.Charset)
	// A new or changed service fills the connection fields the input does
	// not set itself, and is checked for being switched on; a mailbox that
	// keeps its service is not refused because an admin switched it off.
	serviceChanged := creating
	if input.ServiceID != nil {
		serviceChanged = serviceChanged || *input.ServiceID != m.ServiceID
		m.ServiceID = *input.ServiceID
	}
	if input.OwnerID != nil {
		m.OwnerID = *input.OwnerID
	}
	setText(&m.WebURL, input.WebURL)
	if input.Folders != nil {
		m.Folders = normaliseList(*input.Folders, false)
	}
	checkList(errs, "folders", i18n.Key("field.folders"), m.Folders, MaxFolders, MaxFolderNameLength)
	setText(&m.SyncRange, input.SyncRange)

	// Shared rules.
	if m.Charset != "" && !KnownCharset(m.Charset) {
		errs.add("charset", "error.unknown_charset", i18n.Key("field.charset"))
	}
	ranges := []struct {
		field    string
		value    int
		min, max int
	}{
		{"check_interval", m.CheckInterval, 0, 10080},
		{"max_messages", m.MaxMessages, 0, 1_000_000},
		{"max_message_size_kb", m.MaxMessageSizeKB, 0, 10_000_000},
		{"keep_days", m.KeepDays, 0, 36500},
	}
	for _, r := range ranges {
		if r.value < r.min || r.value > r.max {
			errs.add(r.field, "error.range", i18n.Key("field."+r.field), r.min, r.max)
		}
	}
	if m.WebURL != "" && !tooLong(errs, "web_url", i18n.Key("field.web_url"), m.WebURL, MaxWebURLLength) && !validWebURL(m.WebURL) {
		errs.add("web_url", "error.url", i18n.Key("field.web_url"))
	}

	switch m.Type {
	case store.MailboxPOP3:
		s.checkRemoteMailbox(m, creating, errs)
		m.Domains, m.Relay, m.RelayAuthOnly, m.ServiceID, m.OwnerID, m.Folders, m.SyncRange = []string{}, false, false, 0, 0, []string{}, ""
	case store.MailboxIMAP:
		s.checkIMAPMailbox(ctx, actor, m, serviceChanged && input.Server == nil, serviceChanged, errs) // first: it may fill the server
		s.checkRemoteMailbox(m, creating, errs)
		// DeleteFromServer is "delete on the server too": a message deleted
		// in Pochta goes to the server's Trash.
		m.APOP, m.Domains, m.Relay, m.RelayAuthOnly = false, []string{}, false, false
	case store.MailboxSMTP:
		if err := s.checkSMTPMailbox(ctx, m, errs); err != nil {
			return err
		}
		m.VerifyCert, m.Login, m.PasswordSealed, m.APOP, m.DeleteFromServer, m.CheckInterval = true, "", nil, false, false, 0
		m.ServiceID, m.OwnerID, m.Folders, m.SyncRange, m.Security = 0, 0, []string{}, "", "none"
	}
	if err := errs.err(); err != nil {
		return err
	}
	if m.Type == store.MailboxSMTP && m.Active {
		return s.checkListenAddressFree(ctx, m)
	}
	return nil
}

// refuseInapplicable adds an error for each field of input that is given a
// value although mailboxes of the type do not have the field: an API client
// setting relay on a POP3 mailbox learns that it has no effect, rather than
// finding it gone. The web form sends only its type's fields.
func refuseInapplicable(kind string, input MailboxInput, errs fieldErrors) {
	t, ok := store.MailboxTypeOf(kind)
	if !ok {
		return
	}
	isTrue := func(value *bool) bool { return value != nil && *value }
	text := func(value *string) bool { return value != nil && strings.TrimSpace(*value) != "" }
	number := func(value *int) bool { return value != nil && *value != 0 }
	id := func(value *int64) bool { return value != nil && *value != 0 }
	list := func(value *[]string) bool { return value != nil && len(normaliseList(*value, false)) > 0 }
	// given says, per field of store.MailboxTypeFields, whether input gives
	// it a value other than the one a mailbox without the field has, and
	// the field's label.
	given := map[string]struct {
		label string
		given bool
	}{
		"domains":            {"domains", list(input.Domains)},
		"relay":              {"relay", isTrue(input.Relay)},
		"relay_auth_only":    {"relay_auth_only", isTrue(input.RelayAuthOnly)},
		"apop":               {"apop", isTrue(input.APOP)},
		"delete_from_server": {"delete_from_server", isTrue(input.DeleteFromServer)},
		"service_id":         {"service_id", id(input.ServiceID)},
		"owner_id":           {"owner_id", id(input.OwnerID)},
		"folders":            {"folders", list(input.Folders)},
		"sync_range":         {"sync_range", text(input.SyncRange)},
		"verify_cert":        {"no_verify", input.VerifyCert != nil && !*input.VerifyCert},
		"login":              {"login", text(input.Login)},
		"password":           {"password", text(input.Password)},
		"check_interval":     {"check_interval", number(input.CheckInterval)},
		"security":           {"security", text(input.Security) && strings.TrimSpace(*input.Security) != "none"},
	}
	for _, field := range store.MailboxTypeFields() {
		value, known := given[field]
		if !known {
			panic("refuseInapplicable: no check of the mailbox field " + field)
		}
		if !t.Has(field) && value.given {
			errs.add(field, "error.not_applicable", i18n.Key("field."+value.label), i18n.Key("value.mailbox_type."+kind))
		}
	}
}

// checkRemoteMailbox checks what POP3 and IMAP mailboxes share: a server to
// log in to.
func (s *Service) checkRemoteMailbox(m *store.Mailbox, creating bool, errs fieldErrors) {
	// Named as the form labels it for the type.
	server := i18n.Key("field.pop3_server")
	if m.Type == store.MailboxIMAP {
		server = i18n.Key("field.imap_server")
	}
	checkServer(errs, "server", server, &m.Server, "error.host", false)
	if m.Server == "" {
		errs.add("server", "error.required", server)
	}
	if !validPort(m.Port) {
		errs.add("port", "error.range", i18n.Key("field.port"), 1, 65535)
	}
	switch m.Security {
	case "none", "tls", "starttls":
	case "":
		m.Security = "none"
	default:
		errs.add("security", "error.security", i18n.Key("field.security"))
	}
	if m.Login == "" {
		errs.add("login", "error.required", i18n.Key("field.login"))
	}
	if len(m.PasswordSealed) == 0 && creating && m.OAuthMechanism == "" {
		errs.add("password", "error.required", i18n.Key("field.password"))
	}
}

func (s *Service) checkIMAPMailbox(ctx context.Context, actor *Actor, m *store.Mailbox, fill, checkActive bool, errs fieldErrors) {
	if m.ServiceID == 0 {
		errs.add("service_id", "error.required", i18n.Key("field.service_id"))
	} else if service, err := s.store.MailServiceByID(ctx, m.ServiceID); err != nil || service.SiteID != m.SiteID {
		errs.add("service_id", "error.service_site", i18n.Key("field.service_id"))
	} else if checkActive && !actor.IsAdmin() && !service.Active {
		errs.add("service_id", "error.service_inactive", i18n.Key("field.service_id"))
	} else if (fill || m.Server == "") && service.Server != "" {
		// Picking a service fills the connection fields (the form does it
		// in the browser; this covers forms without JavaScript and the API).
		m.Server, m.Port, m.WebURL = service.Server, service.Port, service.WebURL
		if service.Security != "" {
			m.Security = service.Security
		}
	}
	if m.OwnerID == 0 {
		errs.add("owner_id", "error.required", i18n.Key("field.owner_id"))
	} else if _, err := s.store.UserByID(ctx, m.OwnerID); err != nil {
		errs.add("owner_id", "error.unknown_user", i18n.Key("field.owner_id"))
	}
	if len(m.Folders) == 0 {
		m.Folders = []string{"INBOX"}
	}
	if m.SyncRange == "" {
		m.SyncRange = "month"
	} else if !contains(SyncRanges, m.SyncRange) {
		errs.add("sync_range", "error.invalid", i18n.Key("field.sync_range"))
	}
}

// checkSMTPMailbox checks the internal SMTP server's listener settings.
func (s *Service) checkSMTPMailbox(ctx context.Context, m *store.Mailbox, errs fieldErrors) error {
	if m.Server == "" {
		m.Server = "*"
	}
	checkServer(errs, "server", i18n.Key("field.listen"), &m.Server, "error.listen", true)
	if !validPort(m.Port) {
		errs.add("port", "error.range", i18n.Key("field.port"), 1, 65535)
	}
	// White space separates the domains (normaliseList splits on it), so
	// only a NUL can be left inside one; checked before the pattern, whose
	// message would quote it.
	checkList(errs, "domains", i18n.Key("field.domains"), m.Domains, MaxDomains, MaxHostLength)
	for _, domain := range m.Domains {
		if !domainPattern.MatchString(domain) {
			errs.add("domains", "error.domain_list", i18n.Key("field.domains"), domain)
		}
	}
	// Relay needs a list of local domains (otherwise every recipient is
	// local and there is nothing to relay), and "authenticated only" needs
	// relay; cleared rather than refused, as the form disables them.
	if len(m.Domains) == 0 {
		m.Relay = false
	}
	if !m.Relay {
		m.RelayAuthOnly = false
	}
	return nil
}

// checkListenAddressFree enforces that an address:port belongs to one active
// SMTP mailbox; "*" overlaps every address on its port.
func (s *Service) checkListenAddressFree(ctx context.Context, m *store.Mailbox) error {
	active := true
	page, err := s.store.Mailboxes(ctx, store.MailboxFilter{Types: []string{store.MailboxSMTP}, Active: &active, Port: m.Port}, store.MailboxSort{}, "", 1000)
	if err != nil {
		return err
	}
	for _, other := range page.Items {
		if other.ID == m.ID {
			continue
		}
		if other.Server == m.Server || listensEverywhere(other.Server) || listensEverywhere(m.Server) {
			return &ConflictError{Message: i18n.M("error.listen_taken", fmt.Sprintf("%s:%d", m.Server, m.Port), other.Name, other.ID), Fields: []string{"server", "port"}}
		}
	}
	return nil
}

// listensEverywhere reports whether a listen address takes every address of
// the machine: "*", or the unspecified IPv4 or IPv6 address.
func listensEverywhere(address string) bool {
	if address == "*" {
		return true
	}
	ip := net.ParseIP(strings.Trim(address, "[]"))
	return ip != nil && ip.IsUnspecified()
}

// normaliseList trims items, drops empty ones and duplicates; domains are
// also split on white space and lower-cased.
func normaliseList(items []string, domains bool) []string {
	var words []string
	for _, item := range items {
		if domains {
			words = append(words, strings.Fields(strings.ToLower(item))...)
		} else if trimmed := strings.TrimSpace(item); trimmed != "" {
			words = append(words, trimmed)
		}
	}
	seen := map[string]bool{}
	out := []string{}
	for _, word := range words {
		if !seen[word] {
			seen[word] = true
			out = append(out, word)
		}
	}
	return out
}

// IsConflict reports whether err is a conflict the user can read.
func IsConflict(err error) (*ConflictError, bool) {
	var conflict *ConflictError
	ok := errors.As(err, &conflict)
	return conflict, ok
}
