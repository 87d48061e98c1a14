package spam

import (
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf8"

	"pochta.dev/pochta/internal/mime"
)

// The token kinds added in sessions 10 and 11 (issue 14), each chosen by
// its effect on the SpamAssassin corpus's tuning splits (docs/benchmarks.md,
// "Spam accuracy, session 10" and "session 11"). They are free functions that take the
// tokenizer's add, so that the tokenizer and the reference tokenizer of
// TestTokenizeSameAsBefore call the very same code: the tokenizer's speed
// work and these features change apart.

// headerFeatures adds the tokens of one header field beyond its words:
// name is the field's name lower-cased, value its value as the tokenizer
// reads it.
func headerFeatures(name, value string, add func(string)) {
	if name == "received" {
		receivedRoles(value, add)
	}
}

// messageFeatures adds the tokens of the message as a whole, after its
// header and body words, of which there are tokens so far. A message that
// gave none gets none here either ("url:count:0" would be its only token):
// it is one to warn of, not to rate on its want of links.
func messageFeatures(m *mime.Message, tokens int, add func(string)) {
	if tokens == 0 {
		return
	}
	if m.Subject != "" {
		subjectPairs(truncateBytes(m.Subject, maxHeaderBytes), add)
	}
	if m.HTML != "" {
		hiddenText(truncateBytes(m.HTML, maxTextBytes), add)
	}
	urlCount(m.Text, m.HTML, add)
	headerOrder(m.Header, add)
}

// headerOrder adds the names of each three header fields in a row, in the
// order the message gives them ("hord:from>to>subject"): the program that
// wrote a message writes its fields in an order of its own, and a bulk
// mailer's order is not a mail program's (a single field's name is an
// "hn:" token already; pairs of names and runs of four told less, session
// 11 in docs/benchmarks.md). Received fields are left out, as the relays'
// and not the writer's, and so are X-Spam-* (another filter's) and a name
// repeated in a row (a second Cc counts once).
func headerOrder(header []mime.HeaderField, add func(string)) {
	var previous [2]string // the last two names, previous[1] the latest
	for i, f := range header {
		if i >= maxHeaderFields {
			break
		}
		name := f.LowerName()
		if name == "received" || name == previous[1] || strings.HasPrefix(name, "x-spam") || !validName(name) {
			continue
		}
		if previous[0] != "" {
			add("hord:" + previous[0] + ">" + previous[1] + ">" + name)
		}
		previous[0], previous[1] = previous[1], name
	}
}

// urlCount adds how many http(s) links the text and the HTML hold, in
// powers of two ("url:count:0" for none, "url:count:1" for one, "2" for 2-3,
// "3" for 4-7, ...): a sales letter links more than a note does (a link in
// both the text and the HTML counts twice). Their hosts are "url:" tokens
// already.
func urlCount(text, html string, add func(string)) {
	n := 0
	for _, s := range []string{text, html} {
		n += strings.Count(s, "http://") + strings.Count(s, "https://")
	}
	add("url:count:" + strconv.Itoa(bits.Len(uint(n))))
}

// receivedRoles adds the hosts of a Received field by their role, the host
// after "from", "by" and "via" ("rcvd:by:mx.example.com", an address too:
// "rcvd:from:192.0.2.1") and the protocol after "with" ("rcvd:with:esmtp").
// The field's hosts are already "h:" words; which relay handed the message
// over and which took it tells more than that a host was named (a spam
// relayed through the recipient's own hosts names them too, as "by").
func receivedRoles(value string, add func(string)) {
	fields := strings.FieldsFunc(value, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '(' || r == ')' || r == '[' || r == ']' || r == ';' || r == '<' || r == '>'
	})
	for i := 0; i+1 < len(fields); i++ {
		role := fields[i]
		if len(role) > 4 {
			continue
		}
		role = foldString(role)
		if role != "from" && role != "by" && role != "with" && role != "via" {
			continue
		}
		next := strings.Trim(foldString(fields[i+1]), ".")
		if len(next) > 100 {
			continue
		}
		if role == "with" || strings.IndexByte(next, '.') > 0 {
			add("rcvd:" + role + ":" + next)
		}
	}
}

// subjectPairs adds the pairs of adjacent words of the subject
// ("subject:free money"): a subject is short and written to sell, and its
// pairs told spam where the body's pairs did not (docs/benchmarks.md).
func subjectPairs(subject string, add func(string)) {
	previous := ""
	wordsOf(subject, func(word string) {
		if previous != "" {
			add("subject:" + previous + " " + word)
		}
		previous = word
	})
}

// wordsOf calls word with each folded word of value: runs of word runes,
// with . and - inside, of 2 to 30 characters.
func wordsOf(value string, word func(string)) {
	start := -1
	for i := 0; i <= len(value); {
		r, size := utf8.RuneError, 1
		if i < len(value) {
			r, size = utf8.DecodeRuneInString(value[i:])
		}
		if i < len(value) && (isWordRune(r) || (start >= 0 && (r == '.' || r == '-'))) {
			if start < 0 {
				start = i
			}
			i += size
			continue
		}
		if start >= 0 {
			w := strings.Trim(value[start:i], ".-")
			if n := utf8.RuneCountInString(w); n >= minWordRunes && n <= maxWordRunes {
				word(foldString(w))
			}
			start = -1
		}
		i += size
	}
}

// hiddenMarkers are what hides text in HTML (text in white, in a tiny font,
// not displayed): words written for filters, not for the reader. Each
// becomes a token "html:" + marker when the HTML holds it (ASCII case
// ignored).
var hiddenMarkers = [...]string{
	"display:none", "visibility:hidden", "font-size:1px", `size="1"`, "size=1",
	`color="#ffffff"`, "color=#ffffff", "color=white",
}

// hiddenText adds a token for each of hiddenMarkers that the HTML holds, in
// one pass over it.
func hiddenText(html string, add func(string)) {
	var found [len(hiddenMarkers)]bool
	for i := 0; i < len(html); i++ {
		c := html[i] | 0x20 // ASCII lower case; other bytes match no marker's first
		if c != 'd' && c != 'v' && c != 'f' && c != 's' && c != 'c' {
			continue
		}
		for k, marker := range hiddenMarkers {
			if !found[k] && marker[0] == c && hasPrefixFold(html[i:], marker) {
				found[k] = true
			}
		}
	}
	for k, marker := range hiddenMarkers {
		if found[k] {
			add("html:" + marker)
		}
	}
}
