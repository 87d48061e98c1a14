package spam

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/mime"
)

func collect(f func(add func(string))) []string {
	var tokens []string
	f(func(token string) { tokens = append(tokens, token) })
	return tokens
}

func TestReceivedRoles(t *testing.T) {
	for _, test := range []struct{ value, want string }{
		{"from mail.Example.COM (mail.example.com [192.0.2.1]) by mx.example.org (Postfix) with ESMTP id 1A2B for <a@example.org>; Mon, 7 Dec 2026 10:00:00 +0000",
			"rcvd:from:mail.example.com rcvd:by:mx.example.org rcvd:with:esmtp"},
		{"from [192.0.2.1] by localhost. with smtp", "rcvd:from:192.0.2.1 rcvd:with:smtp"}, // "localhost" has no dot
		{"by mx.example.org via HTTP; Mon", "rcvd:by:mx.example.org"},                      // "http" has no dot
		{"from", ""},
	} {
		got := collect(func(add func(string)) { receivedRoles(test.value, add) })
		if want := splitTokens(test.want); !slices.Equal(got, want) {
			t.Errorf("receivedRoles(%q) = %q, want %q", test.value, got, want)
		}
	}
}

func TestSubjectPairs(t *testing.T) {
	for _, test := range []struct{ subject, want string }{
		{"FREE money, NOW!", "subject:free money|subject:money now"},
		{"Ёлка для e-mail.", "subject:елка для|subject:для e-mail"},
		{"one", ""},
		{"a b cc", ""}, // one-letter words are not words
	} {
		got := collect(func(add func(string)) { subjectPairs(test.subject, add) })
		var want []string
		if test.want != "" {
			want = splitBar(test.want)
		}
		if !slices.Equal(got, want) {
			t.Errorf("subjectPairs(%q) = %q, want %q", test.subject, got, want)
		}
	}
}

func TestHiddenText(t *testing.T) {
	got := collect(func(add func(string)) {
		hiddenText(`<P STYLE="Display:None">buy</p><font SIZE="1" color=#FFFFFF>x</font><span style="font-size:1px">`, add)
	})
	want := []string{"html:display:none", "html:font-size:1px", `html:size="1"`, "html:color=#ffffff"}
	if !slices.Equal(got, want) {
		t.Errorf("hiddenText = %q, want %q", got, want)
	}
	if got := collect(func(add func(string)) { hiddenText("<p>plain Привет</p>", add) }); got != nil {
		t.Errorf("hiddenText of plain HTML = %q, want none", got)
	}
}

// TestTokenizeHasFeatures checks that Tokenize calls the features.
func TestTokenizeHasFeatures(t *testing.T) {
	m := &mime.Message{
		Subject: "Cheap pills",
		Header:  []mime.HeaderField{{Name: "Received", Value: "from a.example.net by b.example.org with ESMTP"}},
		HTML:    `<div style="display:none">x</div>`,
	}
	m.Header = append(m.Header, mime.HeaderField{Name: "From", Value: "a@example.net"},
		mime.HeaderField{Name: "To", Value: "b@example.org"}, mime.HeaderField{Name: "Date", Value: "Mon, 7 Dec 2026 10:00:00 +0000"})
	tokens := Tokenize(m)
	for _, want := range []string{"hord:from>to>date", "url:count:0", "subject:cheap pills", "rcvd:from:a.example.net", "rcvd:by:b.example.org", "rcvd:with:esmtp", "html:display:none", "h:a.example.net"} {
		if !slices.Contains(tokens, want) {
			t.Errorf("Tokenize gave no %q: %q", want, tokens)
		}
	}
}

func splitTokens(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Fields(s)
}

func splitBar(s string) []string { return strings.Split(s, "|") }

func TestURLCount(t *testing.T) {
	for _, test := range []struct {
		text, html, want string
	}{
		{"no links", "", "url:count:0"},
		{"see http://a.example", "", "url:count:1"},
		{"http://a.example https://b.example", `<a href="https://b.example">`, "url:count:2"},
		{"", strings.Repeat(`<a href="http://x.example/">`, 9), "url:count:4"},
	} {
		got := collect(func(add func(string)) { urlCount(test.text, test.html, add) })
		if len(got) != 1 || got[0] != test.want {
			t.Errorf("urlCount(%q, %q) = %q, want %q", test.text, test.html, got, test.want)
		}
	}
}

// A message that gives no tokens of its own gets none from the features
// either: the service warns of it rather than rating it.
func TestTokenizeNothingStaysNothing(t *testing.T) {
	if tokens := Tokenize(&mime.Message{Text: "... !!! -- ?? ;"}); len(tokens) != 0 {
		t.Errorf("a message without words gave %q", tokens)
	}
}

func TestHeaderOrder(t *testing.T) {
	for _, test := range []struct{ names, want string }{
		{"From To Subject Date", "hord:from>to>subject hord:to>subject>date"},
		// Received fields are the relays', not the writer's; a name
		// repeated in a row counts once; case is folded.
		{"Received Return-Path Received received FROM Cc Cc cc Subject", "hord:return-path>from>cc hord:from>cc>subject"},
		// Other filters' verdicts and names that are not names are left out.
		{"X-Spam-Status From X-Spam-Level To Bad:Name Subject", "hord:from>to>subject"},
		{"From To", ""},
		{"", ""},
	} {
		var header []mime.HeaderField
		for _, name := range strings.Fields(test.names) {
			header = append(header, mime.HeaderField{Name: name, Value: "x"})
		}
		got := collect(func(add func(string)) { headerOrder(header, add) })
		if want := splitTokens(test.want); !slices.Equal(got, want) {
			t.Errorf("headerOrder(%q) = %q, want %q", test.names, got, want)
		}
	}
	// Only the first maxHeaderFields fields are read, as the tokenizer reads.
	header := make([]mime.HeaderField, maxHeaderFields+3)
	for i := range header {
		header[i] = mime.HeaderField{Name: "X-F" + strconv.Itoa(i)}
	}
	if got := collect(func(add func(string)) { headerOrder(header, add) }); len(got) != maxHeaderFields-2 {
		t.Errorf("headerOrder of %d fields gave %d tokens, want %d", len(header), len(got), maxHeaderFields-2)
	}
}
