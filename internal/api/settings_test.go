package api

import (
	"net/http"
	"reflect"
	"sync/atomic"
	"testing"

	"pochta.dev/pochta/internal/service"
)

func TestSettings(t *testing.T) {
	h := newHarness(t)
	// Settings are for admins and auditors; a user has no business there.
	h.expect(t, http.StatusForbidden, h.user, "GET", "/api/v1/settings", "")
	got := decodeAs[service.Settings](t, h.expect(t, http.StatusOK, h.auditor, "GET", "/api/v1/settings", ""))
	if !reflect.DeepEqual(got, service.DefaultSettings()) {
		t.Errorf("settings = %+v, want the defaults", got)
	}
	changed := decodeAs[service.Settings](t, h.expect(t, http.StatusOK, h.admin, "PATCH", "/api/v1/settings", `{"connection_timeout":45,"save_source":false}`))
	want := service.DefaultSettings()
	want.ConnectionTimeout, want.SaveSource = 45, false
	if !reflect.DeepEqual(changed, want) {
		t.Errorf("after PATCH = %+v, want %+v", changed, want)
	}
	if got := decodeAs[service.Settings](t, h.expect(t, http.StatusOK, h.auditor, "GET", "/api/v1/settings", "")); !reflect.DeepEqual(got, want) {
		t.Errorf("GET after PATCH = %+v, want %+v", got, want)
	}
}

func TestSettingsFieldErrors(t *testing.T) {
	h := newHarness(t)
	russian := h.addAdmin(t, "ivan", "ru")
	tests := []struct {
		auth, body, field, want string
	}{
		{h.admin, `{"connection_timeout":0}`, "connection_timeout", "Connection timeout (seconds) must be a whole number from 1 to 600"},
		{h.admin, `{"log_keep_days":-1}`, "log_keep_days", "Keep log for (days) must be a whole number from 1 to 3650"},
		{russian, `{"connection_timeout":601}`, "connection_timeout", "Поле «Время ожидания соединения (секунды)» должно быть целым числом от 1 до 600"},
	}
	for _, test := range tests {
		got := decodeAs[errorBody](t, h.expect(t, http.StatusBadRequest, test.auth, "PATCH", "/api/v1/settings", test.body))
		if got.Fields[test.field] != test.want {
			t.Errorf("%s: fields = %v, want %s = %q", test.body, got.Fields, test.field, test.want)
		}
	}
	if got := decodeAs[service.Settings](t, h.expect(t, http.StatusOK, h.admin, "GET", "/api/v1/settings", "")); !reflect.DeepEqual(got, service.DefaultSettings()) {
		t.Errorf("a rejected PATCH changed the settings: %+v", got)
	}
}

// The SMTP server's state: admins and auditors read it, admins switch it.
// Without a server wired (this harness) it is stopped with no listeners.
func TestSMTPStatus(t *testing.T) {
	h := newHarness(t)
	h.expect(t, http.StatusForbidden, h.user, "GET", "/api/v1/smtp/status", "")
	got := decodeAs[service.SMTPStatus](t, h.expect(t, http.StatusOK, h.auditor, "GET", "/api/v1/smtp/status", ""))
	if got.Running || got.StartedAt != nil || got.Listeners == nil || len(got.Listeners) != 0 {
		t.Errorf("status = %+v", got)
	}
	h.expect(t, http.StatusForbidden, h.auditor, "POST", "/api/v1/smtp/stop", "")
	h.expect(t, http.StatusNotFound, h.admin, "POST", "/api/v1/smtp/stop", "")
}

// The SMTP key, when PEM, reads back empty.
func TestSMTPKeyWriteOnly(t *testing.T) {
	h := newHarness(t)
	got := decodeAs[service.Settings](t, h.expect(t, http.StatusOK, h.admin, "PATCH", "/api/v1/settings",
		`{"smtp_tls_key":"-----BEGIN PRIVATE KEY-----\nMC4CAQ\n-----END PRIVATE KEY-----","smtp_tls_certificate":"/etc/ssl/cert.pem"}`))
	if got.SMTPTLSKey != "" || got.SMTPTLSCertificate != "/etc/ssl/cert.pem" {
		t.Errorf("settings = %+v", got)
	}
}

// fakeSMTP is an SMTP server that only remembers whether it runs.
type fakeSMTP struct{ running atomic.Bool }

func (f *fakeSMTP) Start() { f.running.Store(true) }
func (f *fakeSMTP) Stop()  { f.running.Store(false) }
func (f *fakeSMTP) Status() service.SMTPStatus {
	return service.SMTPStatus{Running: f.running.Load(), Listeners: []service.SMTPListenerStatus{}}
}

func TestSMTPStartStop(t *testing.T) {
	h := newHarness(t)
	h.env.Service.SetSMTPControl(&fakeSMTP{})
	got := decodeAs[service.SMTPStatus](t, h.expect(t, http.StatusOK, h.admin, "POST", "/api/v1/smtp/start", ""))
	if !got.Running {
		t.Errorf("after start: %+v", got)
	}
	got = decodeAs[service.SMTPStatus](t, h.expect(t, http.StatusOK, h.admin, "POST", "/api/v1/smtp/stop", ""))
	if got.Running {
		t.Errorf("after stop: %+v", got)
	}
}
