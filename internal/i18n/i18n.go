// Package i18n is the message catalog: every text the web admin shows, and
// every validation message, comes from here by key. Each language is one JSON
// file in catalog/ (key -> text), so adding a language is adding a file.
//
// Texts use fmt verbs (%s, %d) for their arguments. An argument of type [Key]
// is itself translated first, so "error.required" = "%s is required" with the
// argument Key("field.name") reads "Name is required".
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"
)

//go:embed catalog/*.json
var files embed.FS

// Fallback is the language used for keys a catalog lacks.
const Fallback = "en"

// Key is a catalog key used as an argument that is translated before use.
type Key string

// Message is a key with its arguments, translated when shown, so that the
// service layer can report errors without knowing the reader's language.
type Message struct {
	Key  string
	Args []any
}

// M makes a Message.
func M(key string, args ...any) Message { return Message{Key: key, Args: args} }

// Catalog holds the texts of every language.
type Catalog struct {
	texts map[string]map[string]string
}

// Default is the catalog built from the embedded files. It is read-only
// after package initialisation.
var Default = mustLoad()

func mustLoad() *Catalog {
	catalog, err := load()
	if err != nil {
		panic(err) // the embedded catalog is part of the binary; tests catch this
	}
	return catalog
}

func load() (*Catalog, error) {
	entries, err := files.ReadDir("catalog")
	if err != nil {
		return nil, fmt.Errorf("i18n: %w", err)
	}
	catalog := &Catalog{texts: map[string]map[string]string{}}
	for _, entry := range entries {
		content, err := files.ReadFile("catalog/" + entry.Name())
		if err != nil {
			return nil, fmt.Errorf("i18n: %w", err)
		}
		texts := map[string]string{}
		if err := json.Unmarshal(content, &texts); err != nil {
			return nil, fmt.Errorf("i18n: %s: %w", entry.Name(), err)
		}
		catalog.texts[strings.TrimSuffix(entry.Name(), path.Ext(entry.Name()))] = texts
	}
	if catalog.texts[Fallback] == nil {
		return nil, fmt.Errorf("i18n: no %s catalog", Fallback)
	}
	return catalog, nil
}

// Languages lists the languages the catalog has, sorted.
func (c *Catalog) Languages() []string {
	languages := make([]string, 0, len(c.texts))
	for language := range c.texts {
		languages = append(languages, language)
	}
	sort.Strings(languages)
	return languages
}

// Has reports whether language has a catalog.
func (c *Catalog) Has(language string) bool { return c.texts[language] != nil }

// Keys lists the keys of one language, sorted.
func (c *Catalog) Keys(language string) []string {
	keys := make([]string, 0, len(c.texts[language]))
	for key := range c.texts[language] {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	return keys
}

// T translates key into language, formatting args into it. A key missing from
// language falls back to English, then to the key itself, so a missing text
// shows up plainly instead of breaking a page.
func (c *Catalog) T(language, key string, args ...any) string {
	text, ok := c.texts[language][key]
	if !ok {
		text, ok = c.texts[Fallback][key]
	}
	if !ok {
		text = key
	}
	if len(args) == 0 {
		return text
	}
	for i, arg := range args {
		switch value := arg.(type) {
		case Key:
			args[i] = c.T(language, string(value))
		case Message:
			args[i] = c.Message(language, value)
		}
	}
	return fmt.Sprintf(text, args...)
}

// Message translates a Message.
func (c *Catalog) Message(language string, message Message) string {
	args := append([]any(nil), message.Args...)
	return c.T(language, message.Key, args...)
}
