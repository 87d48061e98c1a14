package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/service"
)

// settingsLayout groups the module settings (by JSON name) into panels and
// names the help text of each. Only presentation lives here: the fields
// themselves, their types and their ranges come from service.Settings, and a
// setting missing from this table still shows, in an "Other" panel.
var settingsLayout = []struct {
	title  string
	fields []string
}{
	{"settings.section.storage", []string{"save_source", "save_attachments", "max_attachment_size_kb"}},
	{"settings.section.receiving", []string{"connection_timeout", "user_mailboxes_per_user", "allowed_networks"}},
	{"settings.section.spam", []string{"check_spam", "spam_words_used", "spam_min_word_count"}},
	{"settings.section.log", []string{"log_keep_days", "log_disabled"}},
	{"settings.section.smtp", []string{"smtp_allow_plaintext_auth", "smtp_max_line_length", "smtp_max_connections_per_ip",
		"smtp_max_recipients", "smtp_tls_certificate", "smtp_tls_key"}},
	{"settings.section.outbound", []string{"smarthost_host", "smarthost_port", "smarthost_tls", "smarthost_login", "smarthost_password",
		"smarthost_skip_verify"}},
}

// settingInputs are the text settings shown as one line rather than a
// text area: "line", "password" (write-only: shown empty, and empty
// keeps it) or "choice" (a select of settingChoices).
var settingInputs = map[string]string{"smarthost_host": "line", "smarthost_login": "line", "smarthost_password": "password",
	"smarthost_tls": "choice"}

// settingChoices are the values of each "choice" setting; their labels are
// value.<name>.<value> in the catalog.
var settingChoices = map[string][]string{"smarthost_tls": service.SmarthostTLSModes}

// writeOnlySettings keep their value when the form sends them empty.
var writeOnlySettings = map[string]bool{"smtp_tls_key": true, "smarthost_password": true}

// checkboxMarker names, in a hidden field, each checkbox the form had: an
// unchecked box sends nothing, so only a marked field may be read as false.
const checkboxMarker = "checkbox"

type settingRow struct {
	Name    string
	Label   string
	Help    string
	Bool    bool
	Checked bool
	List    bool // a list, edited as text with an entry per line
	// Input is "line", "password" or "choice" for a text shown as one
	// line or a select (settingInputs); "" otherwise.
	Input   string
	Choices []settingChoice
	Value   string
	Error   string
}

type settingChoice struct {
	Value, Label string
}

type settingSection struct {
	Title string
	Rows  []settingRow
}

type settingsData struct {
	Sections []settingSection
	Summary  []summaryItem
	ReadOnly bool
	SMTP     *service.SMTPStatus // the SMTP server panel
}

// settingsValues is the form's state: numbers and lists as typed (a list's
// entries one per line), checkboxes as ticked.
type settingsValues struct {
	numbers map[string]string
	flags   map[string]bool
	lists   map[string]string
	texts   map[string]string // free text (PEM), edited in a text area
}

func newSettingsValues() settingsValues {
	return settingsValues{numbers: map[string]string{}, flags: map[string]bool{}, lists: map[string]string{}, texts: map[string]string{}}
}

// has reports whether the form has a setting of that name.
func (v settingsValues) has(name string) bool {
	_, isFlag := v.flags[name]
	_, isNumber := v.numbers[name]
	_, isList := v.lists[name]
	_, isText := v.texts[name]
	return isFlag || isNumber || isList || isText
}

// valuesOf turns service.Settings into form values through its JSON names,
// so that a new setting needs no change here.
func valuesOf(settings service.Settings) (settingsValues, error) {
	encoded, err := json.Marshal(settings)
	if err != nil {
		return settingsValues{}, err
	}
	var fields map[string]any
	if err := json.Unmarshal(encoded, &fields); err != nil {
		return settingsValues{}, err
	}
	values := newSettingsValues()
	for name, value := range fields {
		switch v := value.(type) {
		case bool:
			values.flags[name] = v
		case float64:
			values.numbers[name] = strconv.FormatInt(int64(v), 10)
		case []any:
			var entries []string
			for _, entry := range v {
				entries = append(entries, fmt.Sprint(entry))
			}
			values.lists[name] = strings.Join(entries, "\n")
		case string:
			values.texts[name] = v
		}
	}
	return values, nil
}

// settingsPage shows the module settings: admins edit them, auditors read
// them. Users do not see them: the service lets any signed-in caller read
// settings (other packages need them), but the page is for administration.
func (s *server) settingsPage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	if !session.Actor.CanReadAll() {
		s.renderError(w, r, http.StatusForbidden, "error.forbidden")
		return nil
	}
	settings, err := s.svc.Settings(r.Context(), session.Actor)
	if err != nil {
		return err
	}
	values, err := valuesOf(settings)
	if err != nil {
		return err
	}
	s.renderSettings(w, r, session, http.StatusOK, values, nil)
	return nil
}

// saveSettings validates and saves the form; on an error the form comes back
// with what was typed and a message by each bad field (422).
func (s *server) saveSettings(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	if !session.Actor.IsAdmin() {
		s.renderError(w, r, http.StatusForbidden, "error.forbidden")
		return nil
	}
	lang := s.svc.UserLanguage(r.Context(), session.Actor.User)
	current, err := s.svc.Settings(r.Context(), session.Actor)
	if err != nil {
		return err
	}
	known, err := valuesOf(current)
	if err != nil {
		return err
	}
	submitted := newSettingsValues()
	input := map[string]any{}
	fieldErrors := map[string]string{}
	marked := map[string]bool{}
	for _, name := range r.PostForm[checkboxMarker] {
		marked[name] = true
	}
	for name := range known.flags {
		if marked[name] {
			checked := r.PostForm.Get(name) != ""
			submitted.flags[name], input[name] = checked, checked
		} else {
			submitted.flags[name] = known.flags[name]
		}
	}
	for name := range known.numbers {
		raw, ok := r.PostForm[name]
		if !ok {
			submitted.numbers[name] = known.numbers[name]
			continue
		}
		text := strings.TrimSpace(raw[0])
		submitted.numbers[name] = text
		number, err := strconv.Atoi(text)
		if err != nil {
			fieldErrors[name] = i18n.Default.T(lang, "error.whole_number", i18n.Key("field."+name))
			continue
		}
		input[name] = number
	}
	for name := range known.lists {
		raw, ok := r.PostForm[name]
		if !ok {
			submitted.lists[name] = known.lists[name]
			continue
		}
		// The service splits the text into entries, and names a bad one.
		submitted.lists[name], input[name] = raw[0], []string{raw[0]}
	}
	for name := range known.texts {
		raw, ok := r.PostForm[name]
		if !ok {
			submitted.texts[name] = known.texts[name]
			continue
		}
		if writeOnlySettings[name] && strings.TrimSpace(raw[0]) == "" {
			continue // write-only: empty keeps the key
		}
		submitted.texts[name], input[name] = raw[0], raw[0]
	}
	var settingsInput service.SettingsInput
	encoded, err := json.Marshal(input)
	if err == nil {
		err = json.Unmarshal(encoded, &settingsInput)
	}
	if err != nil {
		return fmt.Errorf("settings form: %w", err)
	}
	if len(fieldErrors) > 0 {
		// Say what is wrong with the readable fields too, in one answer.
		var invalid *service.ValidationError
		if errors.As(service.CheckSettings(settingsInput), &invalid) {
			for name, text := range invalid.Translated(lang) {
				fieldErrors[name] = text
			}
		}
		s.renderSettings(w, r, session, http.StatusUnprocessableEntity, submitted, fieldErrors)
		return nil
	}
	_, err = s.svc.UpdateSettings(r.Context(), session.Actor, settingsInput)
	var invalid *service.ValidationError
	switch {
	case errors.As(err, &invalid):
		s.renderSettings(w, r, session, http.StatusUnprocessableEntity, submitted, invalid.Translated(lang))
		return nil
	case err != nil:
		return err
	}
	s.flash(w, r, "flash.settings_saved")
	http.Redirect(w, r, "/settings", http.StatusSeeOther)
	return nil
}

func (s *server) renderSettings(w http.ResponseWriter, r *http.Request, session *service.WebSession, status int, values settingsValues, fieldErrors map[string]string) {
	data := s.newPage(w, r, session, "page.settings.title", "settings")
	t := func(key string, args ...any) string { return i18n.Default.T(data.Lang, key, args...) }
	row := func(name string) settingRow {
		result := settingRow{Name: name, Label: t("field." + name), Error: fieldErrors[name]}
		if help := "help." + name; i18n.Default.T(i18n.Fallback, help) != help {
			result.Help = t(help)
		}
		if checked, ok := values.flags[name]; ok {
			result.Bool, result.Checked = true, checked
		} else if list, ok := values.lists[name]; ok {
			result.List, result.Value = true, list
		} else if text, ok := values.texts[name]; ok && settingInputs[name] != "" {
			result.Input, result.Value = settingInputs[name], text
			for _, value := range settingChoices[name] {
				result.Choices = append(result.Choices, settingChoice{Value: value, Label: t("value." + name + "." + value)})
			}
		} else if text, ok := values.texts[name]; ok {
			result.List, result.Value = true, text // a text area too
		} else {
			result.Value = values.numbers[name]
		}
		return result
	}
	content := settingsData{ReadOnly: !session.Actor.IsAdmin()}
	placed := map[string]bool{}
	for _, section := range settingsLayout {
		panel := settingSection{Title: t(section.title)}
		for _, name := range section.fields {
			if !values.has(name) {
				continue // a setting the service no longer has
			}
			placed[name] = true
			panel.Rows = append(panel.Rows, row(name))
		}
		content.Sections = append(content.Sections, panel)
	}
	var others []string
	for name := range values.flags {
		if !placed[name] {
			others = append(others, name)
		}
	}
	for name := range values.numbers {
		if !placed[name] {
			others = append(others, name)
		}
	}
	for name := range values.lists {
		if !placed[name] {
			others = append(others, name)
		}
	}
	if len(others) > 0 {
		sort.Strings(others)
		panel := settingSection{Title: t("settings.section.other")}
		for _, name := range others {
			panel.Rows = append(panel.Rows, row(name))
		}
		content.Sections = append(content.Sections, panel)
	}
	var order []string
	for _, section := range content.Sections {
		for _, row := range section.Rows {
			order = append(order, row.Name)
		}
	}
	content.Summary = summaryOf(fieldErrors, order...)
	if smtp, err := s.svc.SMTPStatus(r.Context(), session.Actor); err == nil {
		content.SMTP = &smtp
	}
	data.Content = content
	s.render(w, r, status, "settings", data)
}

// switchSMTP is the SMTP panel's start and stop buttons (admins).
func (s *server) switchSMTP(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	var err error
	switch r.PostFormValue("action") {
	case "start":
		err = s.svc.StartSMTP(r.Context(), session.Actor)
	case "stop":
		err = s.svc.StopSMTP(r.Context(), session.Actor)
	default:
		s.renderError(w, r, http.StatusBadRequest, "error.bad_request")
		return nil
	}
	if err != nil {
		return err
	}
	s.flash(w, r, "flash.smtp_"+r.PostFormValue("action"))
	http.Redirect(w, r, "/settings", http.StatusSeeOther)
	return nil
}
