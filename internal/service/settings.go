package service

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/protoline"
)

// Settings are the module settings of SPEC.md "Module settings".
type Settings struct {
	SaveSource           bool `json:"save_source"`
	SaveAttachments      bool `json:"save_attachments"`
	ConnectionTimeout    int  `json:"connection_timeout"` // seconds
	CheckSpam            bool `json:"check_spam"`
	LogKeepDays          int  `json:"log_keep_days"`
	LogDisabled          bool `json:"log_disabled"`
	SpamWordsUsed        int  `json:"spam_words_used"`
	SpamMinWordCount     int  `json:"spam_min_word_count"`
	MaxAttachmentSizeKB  int  `json:"max_attachment_size_kb"` // 0: the storage's own limit
	UserMailboxesPerUser int  `json:"user_mailboxes_per_user"`
	// AllowedNetworks are the internal networks and addresses ("10.0.0.0/8",
	// "192.168.1.5") that connections made for users may reach; other
	// internal addresses are refused to them (netguard).
	AllowedNetworks []string `json:"allowed_networks"`
	// The internal SMTP server (package smtpd): its STARTTLS certificate
	// and key as PEM text or file paths (both empty: a self-signed pair
	// made once and kept in the data folder), AUTH before STARTTLS, and
	// its limits.
	SMTPTLSCertificate      string `json:"smtp_tls_certificate"`
	SMTPTLSKey              string `json:"smtp_tls_key"`
	SMTPAllowPlaintextAuth  bool   `json:"smtp_allow_plaintext_auth"`
	SMTPMaxLineLength       int    `json:"smtp_max_line_length"` // bytes
	SMTPMaxConnectionsPerIP int    `json:"smtp_max_connections_per_ip"`
	SMTPMaxRecipients       int    `json:"smtp_max_recipients"`
	// The outbound queue's smarthost (package queue): its host (empty:
	// deliver to each recipient domain's MX), port (0: the TLS mode's
	// usual one), TLS mode ("none", "starttls", "tls"), login and
	// password (write-only, sealed like mailbox passwords: it reads back
	// empty), and "don't verify the certificate".
	SmarthostHost       string `json:"smarthost_host"`
	SmarthostPort       int    `json:"smarthost_port"`
	SmarthostTLS        string `json:"smarthost_tls"`
	SmarthostLogin      string `json:"smarthost_login"`
	SmarthostPassword   string `json:"smarthost_password"`
	SmarthostSkipVerify bool   `json:"smarthost_skip_verify"`
}

// DefaultSettings are the settings of a new installation.
func DefaultSettings() Settings {
	return Settings{
		SaveSource:          true, // the lossless record; the original module defaults to no
		SaveAttachments:     true,
		ConnectionTimeout:   30,
		CheckSpam:           true,
		LogKeepDays:         7,
		SpamWordsUsed:       21,
		SpamMinWordCount:    5,
		MaxAttachmentSizeKB: 50 * 1024,
		AllowedNetworks:     []string{},
		// Lines of real mail reach tens of kilobytes (generated HTML
		// without breaks); RFC 5321's 1,000 would refuse them.
		SMTPMaxLineLength:       64 * 1024,
		SMTPMaxConnectionsPerIP: 50,
		SMTPMaxRecipients:       100,
		SmarthostTLS:            "starttls",
	}
}

// StorageLimitKB is the largest value either backend can hold in one column
// (both SQLite's default SQLITE_MAX_LENGTH and PostgreSQL's bytea stop at
// about 1 GB); "0" in MaxAttachmentSizeKB means this.
const StorageLimitKB = 1_000_000

// SettingsInput changes some settings; nil fields stay.
type SettingsInput struct {
	SaveSource           *bool `json:"save_source,omitempty"`
	SaveAttachments      *bool `json:"save_attachments,omitempty"`
	ConnectionTimeout    *int  `json:"connection_timeout,omitempty"`
	CheckSpam            *bool `json:"check_spam,omitempty"`
	LogKeepDays          *int  `json:"log_keep_days,omitempty"`
	LogDisabled          *bool `json:"log_disabled,omitempty"`
	SpamWordsUsed        *int  `json:"spam_words_used,omitempty"`
	SpamMinWordCount     *int  `json:"spam_min_word_count,omitempty"`
	MaxAttachmentSizeKB  *int  `json:"max_attachment_size_kb,omitempty"`
	UserMailboxesPerUser *int  `json:"user_mailboxes_per_user,omitempty"`
	// AllowedNetworks replaces the list; each item may hold several
	// entries separated by white space or commas (a form's text as it is).
	AllowedNetworks *[]string `json:"allowed_networks,omitempty"`

	SMTPTLSCertificate      *string `json:"smtp_tls_certificate,omitempty"`
	SMTPTLSKey              *string `json:"smtp_tls_key,omitempty"`
	SMTPAllowPlaintextAuth  *bool   `json:"smtp_allow_plaintext_auth,omitempty"`
	SMTPMaxLineLength       *int    `json:"smtp_max_line_length,omitempty"`
	SMTPMaxConnectionsPerIP *int    `json:"smtp_max_connections_per_ip,omitempty"`
	SMTPMaxRecipients       *int    `json:"smtp_max_recipients,omitempty"`

	SmarthostHost  *string `json:"smarthost_host,omitempty"`
	SmarthostPort  *int    `json:"smarthost_port,omitempty"`
	SmarthostTLS   *string `json:"smarthost_tls,omitempty"`
	SmarthostLogin *string `json:"smarthost_login,omitempty"`
	// SmarthostPassword replaces the password ("" removes it).
	SmarthostPassword   *string `json:"smarthost_password,omitempty"`
	SmarthostSkipVerify *bool   `json:"smarthost_skip_verify,omitempty"`
}

// settingField ties a setting's stored name to its place in both structs and
// its allowed range, so that loading, saving and validating share one table.
// A field is of one kind: boolean, number, list or text.
type settingField struct {
	name     string
	boolean  func(*Settings) *bool
	number   func(*Settings) *int
	inBool   func(*SettingsInput) **bool
	inNumber func(*SettingsInput) **int
	min, max int
	// A list is stored as its entries separated by spaces; entry checks
	// and tidies one, and badEntry is the catalog message (field label,
	// entry) for one it refuses.
	list     func(*Settings) *[]string
	inList   func(*SettingsInput) **[]string
	entry    func(string) (string, bool)
	badEntry string
	// A text is stored as it is (PEM, a path), up to maxTextBytes; one
	// with check is a line of a protocol command (a host, a login): check
	// tidies it or refuses it with a catalog message (field label).
	text   func(*Settings) *string
	inText func(*SettingsInput) **string
	check  func(string) (string, string)
	// secret: sealed by the service's box when saved, never read back.
	secret bool
}

// maxTextBytes bounds a text setting (a PEM chain is a few kilobytes).
const maxTextBytes = 64 * 1024

var settingFields = []settingField{
	{name: "save_source", boolean: func(s *Settings) *bool { return &s.SaveSource }, inBool: func(i *SettingsInput) **bool { return &i.SaveSource }},
	{name: "save_attachments", boolean: func(s *Settings) *bool { return &s.SaveAttachments }, inBool: func(i *SettingsInput) **bool { return &i.SaveAttachments }},
	{name: "connection_timeout", number: func(s *Settings) *int { return &s.ConnectionTimeout }, inNumber: func(i *SettingsInput) **int { return &i.ConnectionTimeout }, min: 1, max: 600},
	{name: "check_spam", boolean: func(s *Settings) *bool { return &s.CheckSpam }, inBool: func(i *SettingsInput) **bool { return &i.CheckSpam }},
	{name: "log_keep_days", number: func(s *Settings) *int { return &s.LogKeepDays }, inNumber: func(i *SettingsInput) **int { return &i.LogKeepDays }, min: 1, max: 3650},
	{name: "log_disabled", boolean: func(s *Settings) *bool { return &s.LogDisabled }, inBool: func(i *SettingsInput) **bool { return &i.LogDisabled }},
	{name: "spam_words_used", number: func(s *Settings) *int { return &s.SpamWordsUsed }, inNumber: func(i *SettingsInput) **int { return &i.SpamWordsUsed }, min: 1, max: 1000},
	{name: "spam_min_word_count", number: func(s *Settings) *int { return &s.SpamMinWordCount }, inNumber: func(i *SettingsInput) **int { return &i.SpamMinWordCount }, min: 0, max: 1000},
	{name: "max_attachment_size_kb", number: func(s *Settings) *int { return &s.MaxAttachmentSizeKB }, inNumber: func(i *SettingsInput) **int { return &i.MaxAttachmentSizeKB }, min: 0, max: StorageLimitKB},
	{name: "user_mailboxes_per_user", number: func(s *Settings) *int { return &s.UserMailboxesPerUser }, inNumber: func(i *SettingsInput) **int { return &i.UserMailboxesPerUser }, min: 0, max: 100000},
	{name: "allowed_networks", list: func(s *Settings) *[]string { return &s.AllowedNetworks }, inList: func(i *SettingsInput) **[]string { return &i.AllowedNetworks }, entry: networkEntry, badEntry: "error.network_list"},
	{name: "smtp_tls_certificate", text: func(s *Settings) *string { return &s.SMTPTLSCertificate }, inText: func(i *SettingsInput) **string { return &i.SMTPTLSCertificate }},
	{name: "smtp_tls_key", text: func(s *Settings) *string { return &s.SMTPTLSKey }, inText: func(i *SettingsInput) **string { return &i.SMTPTLSKey }},
	{name: "smtp_allow_plaintext_auth", boolean: func(s *Settings) *bool { return &s.SMTPAllowPlaintextAuth }, inBool: func(i *SettingsInput) **bool { return &i.SMTPAllowPlaintextAuth }},
	{name: "smtp_max_line_length", number: func(s *Settings) *int { return &s.SMTPMaxLineLength }, inNumber: func(i *SettingsInput) **int { return &i.SMTPMaxLineLength }, min: 1000, max: 16 << 20},
	{name: "smtp_max_connections_per_ip", number: func(s *Settings) *int { return &s.SMTPMaxConnectionsPerIP }, inNumber: func(i *SettingsInput) **int { return &i.SMTPMaxConnectionsPerIP }, min: 1, max: 100000},
	{name: "smtp_max_recipients", number: func(s *Settings) *int { return &s.SMTPMaxRecipients }, inNumber: func(i *SettingsInput) **int { return &i.SMTPMaxRecipients }, min: 1, max: 100000},
	{name: "smarthost_host", text: func(s *Settings) *string { return &s.SmarthostHost }, inText: func(i *SettingsInput) **string { return &i.SmarthostHost }, check: hostSetting},
	{name: "smarthost_port", number: func(s *Settings) *int { return &s.SmarthostPort }, inNumber: func(i *SettingsInput) **int { return &i.SmarthostPort }, min: 0, max: 65535},
	{name: "smarthost_tls", text: func(s *Settings) *string { return &s.SmarthostTLS }, inText: func(i *SettingsInput) **string { return &i.SmarthostTLS }, check: smarthostTLSSetting},
	{name: "smarthost_login", text: func(s *Settings) *string { return &s.SmarthostLogin }, inText: func(i *SettingsInput) **string { return &i.SmarthostLogin }, check: lineSetting},
	{name: "smarthost_password", text: func(s *Settings) *string { return &s.SmarthostPassword }, inText: func(i *SettingsInput) **string { return &i.SmarthostPassword }, check: lineSetting, secret: true},
	{name: "smarthost_skip_verify", boolean: func(s *Settings) *bool { return &s.SmarthostSkipVerify }, inBool: func(i *SettingsInput) **bool { return &i.SmarthostSkipVerify }},
}

// SmarthostTLSModes are the values of the smarthost_tls setting.
var SmarthostTLSModes = []string{"none", "starttls", "tls"}

// lineSetting checks a setting that becomes part of a protocol command: no
// CR, LF or NUL (protoline), at most 255 characters.
func lineSetting(value string) (string, string) {
	if !protoline.Safe(value) || utf8.RuneCountInString(value) > 255 {
		return "", "error.line_break"
	}
	return value, ""
}

// hostSetting checks a host name or address: a line without spaces; an
// IPv6 address in brackets is kept without them.
func hostSetting(value string) (string, string) {
	value = strings.TrimSuffix(strings.TrimPrefix(value, "["), "]")
	if _, problem := lineSetting(value); problem != "" || strings.ContainsAny(value, " \t/@") {
		return "", "error.host"
	}
	return value, ""
}

func smarthostTLSSetting(value string) (string, string) {
	if !slices.Contains(SmarthostTLSModes, value) {
		return "", "error.choice"
	}
	return value, ""
}

// settingsCache keeps the settings for a few seconds: they are read on every
// work log write and every received message.
type settingsCache struct {
	mu      sync.Mutex
	value   Settings
	expires time.Time
}

const settingsCacheTTL = 5 * time.Second

// Settings gives the current settings to admins and auditors.
func (s *Service) Settings(ctx context.Context, actor *Actor) (Settings, error) {
	if err := requireReadAll(actor); err != nil {
		return Settings{}, err
	}
	settings, err := s.currentSettings(ctx)
	return maskSettings(settings), err
}

// maskSettings hides the SMTP private key when it is PEM text rather than
// a path: secrets never leave the service (it reads back empty, and the web
// form keeps it when left empty, as mailbox passwords).
func maskSettings(settings Settings) Settings {
	if strings.Contains(settings.SMTPTLSKey, "PRIVATE KEY") {
		settings.SMTPTLSKey = ""
	}
	settings.SmarthostPassword = ""
	return settings
}

// currentSettings reads the settings for Pochta's own use, through the cache.
func (s *Service) currentSettings(ctx context.Context) (Settings, error) {
	s.settings.mu.Lock()
	defer s.settings.mu.Unlock()
	if s.now().Before(s.settings.expires) {
		return s.settings.value, nil
	}
	stored, err := s.store.Settings(ctx)
	if err != nil {
		return Settings{}, err
	}
	settings := DefaultSettings()
	for _, field := range settingFields {
		value, ok := stored[field.name]
		if !ok {
			continue
		}
		switch {
		case field.boolean != nil:
			if parsed, err := strconv.ParseBool(value); err == nil {
				*field.boolean(&settings) = parsed
			}
		case field.list != nil:
			*field.list(&settings) = strings.Fields(value)
		case field.secret && value != "":
			sealed, err := base64.StdEncoding.DecodeString(value)
			var plain string
			if err == nil {
				plain, err = s.box.Open(sealed)
			}
			if err != nil {
				// Another key, or damaged: as if none were set, which
				// the admin sees and sets again.
				s.logger.Error("setting unreadable with this secret key", "setting", field.name, "error", err)
				continue
			}
			*field.text(&settings) = plain
		case field.text != nil:
			*field.text(&settings) = value
		default:
			if parsed, err := strconv.Atoi(value); err == nil {
				*field.number(&settings) = parsed
			}
		}
	}
	s.settings.value, s.settings.expires = settings, s.now().Add(settingsCacheTTL)
	return settings, nil
}

// UpdateSettings validates and saves the given settings. Only admins may.
func (s *Service) UpdateSettings(ctx context.Context, actor *Actor, input SettingsInput) (Settings, error) {
	if err := requireAdmin(actor); err != nil {
		return Settings{}, err
	}
	values, errs := settingValues(input)
	if err := errs.err(); err != nil {
		return Settings{}, err
	}
	for _, field := range settingFields {
		if plain, ok := values[field.name]; ok && field.secret && plain != "" {
			sealed, err := s.box.Seal(plain)
			if err != nil {
				return Settings{}, fmt.Errorf("seal %s: %w", field.name, err)
			}
			values[field.name] = base64.StdEncoding.EncodeToString(sealed)
		}
	}
	if err := s.store.SaveSettings(ctx, values); err != nil {
		return Settings{}, err
	}
	s.settings.mu.Lock()
	s.settings.expires = time.Time{}
	s.settings.mu.Unlock()
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	sort.Strings(names)
	s.audit(ctx, actor, "settings saved", "settings", names)
	settings, err := s.currentSettings(ctx)
	return maskSettings(settings), err
}

// CheckSettings validates input as UpdateSettings does, saving nothing: a
// form that found some fields unreadable reports the others' mistakes in
// the same answer.
func CheckSettings(input SettingsInput) error {
	_, errs := settingValues(input)
	return errs.err()
}

// settingValues gives the stored form of the settings input sets, and the
// errors of those out of range.
func settingValues(input SettingsInput) (map[string]string, fieldErrors) {
	errs := fieldErrors{}
	values := map[string]string{}
	for _, field := range settingFields {
		if field.inBool != nil {
			if value := *field.inBool(&input); value != nil {
				values[field.name] = strconv.FormatBool(*value)
			}
			continue
		}
		if field.inText != nil {
			if value := *field.inText(&input); value != nil {
				text := strings.TrimSpace(*value)
				if field.secret {
					text = *value // a password's spaces are its own
				}
				if len(text) > maxTextBytes || strings.ContainsRune(text, 0) {
					errs.add(field.name, "error.text_too_long", i18n.Key("field."+field.name), maxTextBytes)
					continue
				}
				if field.check != nil && text != "" {
					checked, problem := field.check(text)
					if problem != "" {
						errs.add(field.name, problem, i18n.Key("field."+field.name))
						continue
					}
					text = checked
				}
				values[field.name] = text
			}
			continue
		}
		if field.inList != nil {
			if value := *field.inList(&input); value != nil {
				if entries, ok := listValue(field, *value, errs); ok {
					values[field.name] = strings.Join(entries, " ")
				}
			}
			continue
		}
		value := *field.inNumber(&input)
		if value == nil {
			continue
		}
		if *value < field.min || *value > field.max {
			errs.add(field.name, "error.range", i18n.Key("field."+field.name), field.min, field.max)
			continue
		}
		values[field.name] = strconv.Itoa(*value)
	}
	return values, errs
}

// maxSettingListEntries bounds a list setting (a network list longer than
// this is a mistake, and every connection made for a user reads it).
const maxSettingListEntries = 200

// listValue checks and tidies a list setting's entries, split on white
// space and commas, without repeats. A refused entry is reported in errs
// (the first one: a form shows one message per field).
func listValue(field settingField, items []string, errs fieldErrors) ([]string, bool) {
	entries := []string{}
	seen := map[string]bool{}
	for _, item := range items {
		for _, raw := range strings.FieldsFunc(item, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
			entry, ok := field.entry(raw)
			if !ok {
				// The entry is said back shortened: it came from outside.
				errs.add(field.name, field.badEntry, i18n.Key("field."+field.name), i18n.Shorten(raw, 64))
				return nil, false
			}
			if !seen[entry] && len(entries) == maxSettingListEntries {
				errs.add(field.name, "error.too_many", i18n.Key("field."+field.name), maxSettingListEntries)
				return nil, false
			}
			if !seen[entry] {
				seen[entry] = true
				entries = append(entries, entry)
			}
		}
	}
	return entries, true
}

// LogPolicy implements worklog.Settings.
func (s *Service) LogPolicy(ctx context.Context) (bool, int) {
	settings, err := s.currentSettings(ctx)
	if err != nil {
		s.logger.Error("read settings", "error", err)
		defaults := DefaultSettings()
		return defaults.LogDisabled, defaults.LogKeepDays
	}
	return settings.LogDisabled, settings.LogKeepDays
}
