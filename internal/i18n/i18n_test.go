package i18n

import "testing"

func TestEveryLanguageHasEveryKey(t *testing.T) {
	english := Default.Keys(Fallback)
	for _, language := range Default.Languages() {
		have := map[string]bool{}
		for _, key := range Default.Keys(language) {
			have[key] = true
		}
		for _, key := range english {
			if !have[key] {
				t.Errorf("%s catalog lacks %q", language, key)
			}
		}
		for key := range have {
			if _, ok := Default.texts[Fallback][key]; !ok {
				t.Errorf("%s catalog has %q, which English lacks", language, key)
			}
		}
	}
}

func TestTranslateNestedKey(t *testing.T) {
	tests := []struct {
		language string
		message  Message
		want     string
	}{
		{"en", M("error.required", Key("field.name")), "Name is required"},
		{"ru", M("error.required", Key("field.name")), "Поле «Название» обязательно"},
		{"de", M("error.required", Key("field.name")), "Name is required"},
		{"en", M("no.such.key"), "no.such.key"},
	}
	for _, test := range tests {
		if got := Default.Message(test.language, test.message); got != test.want {
			t.Errorf("%s %v = %q, want %q", test.language, test.message, got, test.want)
		}
	}
}
