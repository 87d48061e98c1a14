package worklog_test

import (
	"strings"
	"testing"

	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/worklog"
)

func TestSay(t *testing.T) {
	entry := worklog.Say(store.LogEntry{Level: store.LevelInfo, Type: "receive"},
		worklog.Part("log.receive", "Счёт № 7", "3.4 KB"), worklog.Part("log.receive_via", "POP3"), worklog.Part("log.receive_notes", 2))
	if want := "Receiving mail: Счёт № 7 (3.4 KB) via POP3; 2 parse notes"; entry.Text != want {
		t.Errorf("Text = %q, want %q", entry.Text, want)
	}
	if got, want := worklog.Text("ru", entry), "Получение письма: Счёт № 7 (3.4 KB) через POP3; замечаний разбора: 2"; got != want {
		t.Errorf("in Russian %q, want %q", got, want)
	}
	// Literal pieces alone need no parts: the text reads the same in every language.
	plain := worklog.Say(store.LogEntry{Level: store.LevelReply}, worklog.Literal("+OK 3 messages"))
	if plain.Text != "+OK 3 messages" || plain.Parts != nil {
		t.Errorf("literal line: %+v", plain)
	}
	if got := worklog.Text("ru", plain); got != "+OK 3 messages" {
		t.Errorf("literal line in Russian: %q", got)
	}
	// Arguments go in by position where a language orders them otherwise.
	retention := worklog.Say(store.LogEntry{}, worklog.Part("log.retention", 12, 30))
	if got, want := worklog.Text("ru", retention), "Удалено писем старше 30 дн.: 12"; got != want {
		t.Errorf("retention in Russian %q, want %q", got, want)
	}
}

func TestJoin(t *testing.T) {
	connecting := worklog.Say(store.LogEntry{Level: store.LevelInfo}, worklog.Part("log.pop3_connecting", "127.0.0.1:110"))
	plain := worklog.Say(store.LogEntry{Level: store.LevelInfo}, worklog.Literal("a server's line"))
	received := worklog.Say(store.LogEntry{Level: store.LevelInfo}, worklog.Part("log.pop3_received", 3))
	tests := []struct {
		name             string
		entry            store.LogEntry
		english, russian string
	}{
		{"two plain lines stay plain", worklog.Join(plain, plain), "a server's line\na server's line", "a server's line\na server's line"},
		{"a plain line, then a said one", worklog.Join(plain, received), "a server's line\nReceived 3 new messages", "a server's line\nПолучено новых писем: 3"},
		{"a said line, then a plain one", worklog.Join(connecting, plain), "Connecting to 127.0.0.1:110\na server's line", "Подключение к 127.0.0.1:110\na server's line"},
		{"two said lines", worklog.Join(connecting, received), "Connecting to 127.0.0.1:110\nReceived 3 new messages", "Подключение к 127.0.0.1:110\nПолучено новых писем: 3"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			if test.entry.Text != test.english {
				t.Errorf("Text = %q, want %q", test.entry.Text, test.english)
			}
			if got := worklog.Text("ru", test.entry); got != test.russian {
				t.Errorf("in Russian %q, want %q", got, test.russian)
			}
		})
	}
}

// A size argument is said in each reader's own way.
func TestSize(t *testing.T) {
	entry := worklog.Say(store.LogEntry{}, worklog.Part("log.receive", "Отчёт", worklog.Size(3482)))
	if want := "Receiving mail: Отчёт (3.4 KB)"; entry.Text != want {
		t.Errorf("Text = %q, want %q", entry.Text, want)
	}
	if got, want := worklog.Text("ru", entry), "Получение письма: Отчёт (3,4 КБ)"; got != want {
		t.Errorf("in Russian %q, want %q", got, want)
	}
	small := worklog.Say(store.LogEntry{}, worklog.Part("log.receive_no_subject", worklog.Size(391)))
	if got, want := worklog.Text("ru", small), "Получение письма: (без темы) (391 Б)"; got != want {
		t.Errorf("in Russian %q, want %q", got, want)
	}
}

// A megabyte subject is legal mail; its log line keeps a readable start.
func TestSubjectShortened(t *testing.T) {
	subject := strings.Repeat("Счёт ", 200_000)
	entry := worklog.Say(store.LogEntry{Level: store.LevelInfo, Type: "receive"},
		worklog.Part("log.receive", worklog.Subject(subject), worklog.Size(len(subject))))
	if len(entry.Text) > 2000 || !strings.HasPrefix(entry.Text, "Receiving mail: Счёт Счёт") || !strings.Contains(entry.Text, "… (") {
		t.Errorf("log line of %d bytes: %.80q", len(entry.Text), entry.Text)
	}
	if short := "Счёт № 7"; worklog.Subject(short) != short {
		t.Errorf("a short subject changed: %q", worklog.Subject(short))
	}
}
