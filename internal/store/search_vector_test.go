package store

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// referenceVector is the search vector built the plain way (as the store
// did before tsvectorLiteral was made to allocate little): the two must
// give the same literal.
func referenceVector(subject, sender, recipients, body string, filenames ...string) string {
	quote := func(word string) string {
		return "'" + strings.NewReplacer(`'`, `''`, `\`, `\\`).Replace(word) + "'"
	}
	type entry struct{ positions []string }
	entries := map[string]*entry{}
	var order []string
	position := 0
	for _, part := range []struct{ text, weight string }{{subject, "A"}, {sender, "B"}, {recipients, "C"}, {body, "D"}, {strings.Join(filenames, " "), "@"},
		{sender, "^"}, {recipients, "~"}} {
		seen := map[string]bool{}
		for _, word := range searchWords(part.text) {
			if len(word) > 200 || seen[word] {
				continue
			}
			marked := part.weight == "@" || part.weight == "^" || part.weight == "~"
			if marked {
				word = part.weight + word
			}
			seen[word] = true
			position = min(position+1, 16383)
			e := entries[word]
			if e == nil {
				e = &entry{}
				entries[word] = e
				order = append(order, word)
				if part.weight == "D" || marked {
					continue
				}
			}
			if marked {
				continue // attachment names' and the marked terms have no positions
			}
			e.positions = append(e.positions, strconv.Itoa(position)+part.weight)
		}
	}
	var b strings.Builder
	for i, word := range order {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(quote(word))
		if positions := entries[word].positions; len(positions) > 0 {
			b.WriteByte(':')
			b.WriteString(strings.Join(positions, ","))
		}
	}
	return b.String()
}

func TestSearchVectorMatchesReference(t *testing.T) {
	words := []string{"отчёт", "Report", "it's", `back\slash`, "a", "b", "re", "Ünïcode", strings.Repeat("long", 60), "x1", "O'Brien"}
	random := rand.New(rand.NewPCG(5, 6))
	text := func() string {
		var parts []string
		for range random.IntN(40) {
			parts = append(parts, words[random.IntN(len(words))])
		}
		return strings.Join(parts, " ,.")
	}
	for range 2000 {
		subject, sender, recipients, body, filename := text(), text(), text(), text(), text()
		got := SearchVector(SearchText{Subject: subject, Sender: sender, Recipients: recipients, Body: body, Filenames: []string{filename}})
		if want := referenceVector(subject, sender, recipients, body, filename); got != want {
			t.Fatalf("vector of %q %q %q %q %q:\n got %s\nwant %s", subject, sender, recipients, body, filename, got, want)
		}
	}
	for _, text := range peerCorpusTexts(t) {
		if got, want := SearchVector(SearchText{Subject: "subject", Sender: "from", Recipients: "to", Body: text}), referenceVector("subject", "from", "to", text); got != want {
			t.Fatalf("vector of a peer corpus text differs:\n got %.200s\nwant %.200s", got, want)
		}
	}
	if got := quoteLexeme(`it's a \`); got != `'it''s a \\'` {
		t.Errorf("quoteLexeme = %s", got)
	}
}
