package spam

// The tokenizer as it was before session 9's rework (tokenize.go at main
// 9bc31f1), kept to prove the faster one emits the same tokens in the same
// order: another engineer tunes the filter on them.

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"pochta.dev/pochta/internal/mime"
)

// Limits of the refTokenizer, so that a huge message costs what a large one
// does.
const (
	// refMaxTokens bounds the distinct tokens taken from one message.
	refMaxTokens = 4000
	// refMaxTextBytes bounds the bytes of a message's text, and separately of
	// its HTML, that are read for words.
	refMaxTextBytes = 256 << 10
	// refMaxHeaderBytes bounds the bytes of one header field's value read.
	refMaxHeaderBytes = 2 << 10
	// refMaxHeaderFields bounds the header fields read.
	refMaxHeaderFields = 200
	// refMinWordRunes and refMaxWordRunes bound a word; longer runs (base64,
	// hashes) are not words.
	refMinWordRunes = 2
	refMaxWordRunes = 30
)

// refSkippedHeaders are fields that say nothing about the message or carry
// another filter's verdict (which would teach this one to copy it).
var refSkippedHeaders = map[string]bool{
	"date": true, "delivery-date": true, "in-reply-to": true, "references": true,
	"content-length": true, "lines": true, "status": true, "x-status": true, "x-keywords": true, "x-uid": true,
}

// refAddressHeaders are read as addresses: the address, its domain and the
// display name's words.
var refAddressHeaders = map[string]string{
	"from": "from", "to": "to", "cc": "to", "reply-to": "reply", "return-path": "rtrn", "sender": "from",
}

// refTokenize gives the distinct tokens of a message with the default
// [refTokenizer]: no word pairs.
func refTokenize(m *mime.Message) []string { return refOptions{}.refTokenize(m) }

// refTokenizer turns messages into tokens. The zero value is the default.
type refOptions struct {
	// Pairs adds the pairs of adjacent words of the body and the subject
	// ("free money"). Off by default: with chi-square combining they
	// repeat what their words already say, and the evaluation in
	// docs/benchmarks.md rated worse with them.
	Pairs bool
}

// refTokenize gives the distinct tokens of a message, in the order they were
// first seen, at most [refMaxTokens] of them:
//
//   - body words (letters and digits of any script, inner ' - . kept,
//     case folded, ё as е, "$" kept in front), 2 to 30 characters, a
//     longer run as its first character and length in tens ("skip:a30",
//     as SpamBayes does), and with Pairs the pairs of adjacent words;
//   - the subject's words prefixed "subject:";
//   - addresses of From, To, Cc, Reply-To, Return-Path and Sender as
//     "from:addr" and "from:@domain" (to:, reply:, rtrn:), other words of
//     those fields with the same prefix;
//   - the name of every header field as "hn:name" (X-Spam-* left out);
//   - the words of other header fields prefixed "h:" (one prefix for all:
//     a mailing list names itself in half a dozen fields), except fields
//     that identify one message or one delivery (Date, Delivery-Date,
//     References...) and other filters' verdicts (X-Spam-*); of Message-ID
//     only its domain ("h:message-id@example.com", "h:message-id@ip");
//     Received fields give only their hosts and addresses (words with a
//     dot), Content-Type its media type and charset;
//   - http(s) URLs and www. words as "url:host" and each parent domain
//     ("url:example.com"), a numeric host as "url:ip"; in HTML the URLs
//     of its tags' attributes too;
//   - attachments as "att:type" and "att:.ext".
//
// A message with no text still gives its header tokens; the caller logs a
// message that gives none.
func (z refOptions) refTokenize(m *mime.Message) []string {
	t := refTokenizers.Get().(*refTokenizer)
	t.pairs = z.Pairs
	t.message(m)
	tokens := slices.Clone(t.tokens)
	t.reset()
	refTokenizers.Put(t)
	return tokens
}

// refTokenizers keeps refTokenizers for reuse: a message's set of seen tokens
// grows to hundreds of entries, and making it anew for every message
// received was a good part of the refTokenizer's cost (docs/benchmarks.md).
var refTokenizers = sync.Pool{New: func() any { return refNewTokenizer() }}

// reset readies t for the next message. A set grown past a typical
// message's size is dropped rather than kept at its largest.
func (t *refTokenizer) reset() {
	if len(t.seen) > 1024 {
		t.seen = make(map[string]struct{}, 512)
	} else {
		clear(t.seen)
	}
	clear(t.tokens)
	t.tokens, t.prev, t.pairs = t.tokens[:0], "", false
}

type refTokenizer struct {
	seen   map[string]struct{}
	tokens []string
	// prev is the previous word of the current run, for pairs; "" at the
	// start of a run.
	prev  string
	buf   []byte
	pairs bool
}

func refNewTokenizer() *refTokenizer {
	return &refTokenizer{seen: make(map[string]struct{}, 512), tokens: make([]string, 0, 512)}
}

func (t *refTokenizer) full() bool { return len(t.tokens) >= refMaxTokens }

// add records a token once.
func (t *refTokenizer) add(token string) {
	if t.full() {
		return
	}
	if _, ok := t.seen[token]; ok {
		return
	}
	t.seen[token] = struct{}{}
	t.tokens = append(t.tokens, token)
}

func (t *refTokenizer) message(m *mime.Message) {
	if m == nil {
		return
	}
	if m.Subject != "" {
		t.words(refTruncateBytes(m.Subject, refMaxHeaderBytes), "subject:", t.pairs)
	}
	for i, f := range m.Header {
		if i >= refMaxHeaderFields || t.full() {
			break
		}
		t.header(f)
	}
	for _, a := range m.Attachments {
		t.add("att:" + strings.ToLower(a.ContentType))
		if dot := strings.LastIndexByte(a.Filename, '.'); dot >= 0 && len(a.Filename)-dot <= 8 {
			t.add("att:." + strings.ToLower(a.Filename[dot+1:]))
		}
	}
	t.words(refTruncateBytes(m.Text, refMaxTextBytes), "", t.pairs)
	if m.HTML != "" {
		t.html(refTruncateBytes(m.HTML, refMaxTextBytes))
	}
	messageFeatures(m, len(t.tokens), t.add) // session 10's features: the same code as the tokenizer's
}

// header tokenizes one header field.
func (t *refTokenizer) header(f mime.HeaderField) {
	name := strings.ToLower(f.Name)
	// The field's name, as bogofilter's "head:Name": which fields a
	// message has says which software wrote and sent it (X-Mailer,
	// MIME-Version, List-Id, X-MSMail-Priority), whatever their values.
	// Other filters' verdicts are left out, as their values are.
	if refValidName(name) && !strings.HasPrefix(name, "x-spam") {
		t.add("hn:" + name)
	}
	if name == "message-id" {
		// The domain part says which software made the message.
		if at := strings.LastIndexByte(f.Value, '@'); at >= 0 {
			domain := strings.Trim(refFoldString(refTruncateBytes(f.Value[at+1:], 100)), "<> ")
			if net.ParseIP(strings.Trim(domain, "[]")) != nil {
				domain = "ip"
			}
			t.add("h:message-id@" + domain)
		}
		return
	}
	if refSkippedHeaders[name] || strings.HasPrefix(name, "x-spam") || name == "subject" || !refValidName(name) {
		return
	}
	value := refTruncateBytes(f.Value, refMaxHeaderBytes)
	headerFeatures(name, value, t.add) // session 10's features: the same code as the tokenizer's
	if prefix, ok := refAddressHeaders[name]; ok {
		t.addresses(value, prefix+":")
		return
	}
	switch name {
	case "content-type":
		// The media type and charset, not the boundary (random text).
		for i, part := range strings.Split(value, ";") {
			part = strings.TrimSpace(refFoldString(part))
			if i == 0 {
				t.add("h:type:" + part)
			} else if rest, ok := strings.CutPrefix(part, "charset="); ok {
				t.add("h:charset:" + strings.Trim(rest, `"' `))
			}
		}
		return
	case "received":
		// The hosts and addresses a message passed, not the dates and
		// queue IDs beside them.
		t.hosts(value, "h:")
		return
	}
	// Other fields share one prefix: a mailing list names itself in half a
	// dozen fields, and a word counted once per field would outvote the
	// body's.
	t.words(value, "h:", false)
}

// hosts adds the words of value that hold a dot (host names, IP addresses).
func (t *refTokenizer) hosts(value, prefix string) {
	for _, field := range strings.FieldsFunc(value, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '(' || r == ')' || r == '[' || r == ']' || r == ';' || r == '<' || r == '>'
	}) {
		if strings.IndexByte(field, '.') > 0 && len(field) <= 100 {
			t.add(prefix + strings.Trim(refFoldString(field), "."))
		}
	}
}

// addresses tokenizes an address header loosely (a bad header is still
// worth its words): each address and its domain, and the other words.
func (t *refTokenizer) addresses(value, prefix string) {
	for _, field := range strings.FieldsFunc(value, func(r rune) bool {
		return r == ',' || r == ' ' || r == '<' || r == '>' || r == '"' || r == '\t' || r == ';'
	}) {
		at := strings.LastIndexByte(field, '@')
		if at < 0 {
			t.words(field, prefix, false)
			continue
		}
		address := refFoldString(field)
		t.add(prefix + address)
		// The one change from main's tokenizer: the domain is cut at the
		// fold's own '@' (main cut it at the field's, wrong where folding
		// changes the length, and crashed where it shrank past the end).
		at = strings.LastIndexByte(address, '@')
		domain := address[at+1:]
		t.add(prefix + "@" + domain)
	}
}

func refValidName(name string) bool {
	if name == "" || len(name) > 40 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

// html tokenizes what the text of an HTML part does not show: the
// addresses its links and images point at.
func (t *refTokenizer) html(h string) {
	for i := 0; i < len(h) && !t.full(); {
		lt := strings.IndexByte(h[i:], '<')
		if lt < 0 {
			return
		}
		i += lt + 1
		end := strings.IndexByte(h[i:], '>')
		if end < 0 {
			end = len(h) - i
		}
		tag := h[i : i+end]
		i += end
		if strings.HasPrefix(tag, "!") {
			continue
		}
		name := tag
		if sp := strings.IndexAny(tag, " \t\r\n/"); sp >= 0 {
			name = tag[:sp]
		}
		if name == "" || len(name) > 10 {
			continue
		}
		t.urls(tag)
	}
}

// urls finds http(s) URLs in s and tokenizes their hosts.
func (t *refTokenizer) urls(s string) {
	for {
		i := refIndexFold(s, "http")
		if i < 0 {
			return
		}
		s = s[i+4:]
		if len(s) > 0 && (s[0] == 's' || s[0] == 'S') {
			s = s[1:]
		}
		if !strings.HasPrefix(s, "://") {
			continue
		}
		s = s[3:]
		end := strings.IndexAny(s, "/?#\"'> \t\r\n:)")
		if end < 0 {
			end = len(s)
		}
		t.host(s[:end])
		s = s[end:]
	}
}

// host adds a URL's host and its parent domains, or "url:ip".
func (t *refTokenizer) host(host string) {
	if at := strings.LastIndexByte(host, '@'); at >= 0 {
		host = host[at+1:]
	}
	host = strings.TrimSuffix(refFoldString(host), ".")
	if host == "" || len(host) > 100 || !utf8.ValidString(host) {
		return
	}
	if net.ParseIP(host) != nil || refIsNumericHost(host) {
		t.add("url:ip")
		return
	}
	t.add("url:" + host)
	for {
		dot := strings.IndexByte(host, '.')
		if dot < 0 || strings.Count(host, ".") < 2 {
			return
		}
		host = host[dot+1:]
		t.add("url:" + host)
	}
}

// refIsNumericHost tells a host written as a number (a decimal or hex IPv4
// address, dotted or not), which only those hiding where a link goes use.
func refIsNumericHost(host string) bool {
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == 'x' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return host[0] >= '0' && host[0] <= '9'
}

// words tokenizes text into words (and pairs when pairs is set), each
// prefixed with prefix. URLs in the text are tokenized as URLs.
func (t *refTokenizer) words(text, prefix string, pairs bool) {
	t.prev = ""
	for i := 0; i < len(text) && !t.full(); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if !refIsWordRune(r) && r != '$' {
			i += size
			if r != ' ' && r != '-' && r != ',' {
				t.prev = "" // a pair does not span punctuation or lines
			}
			continue
		}
		// A word: word runes, with ' - . inside between word runes.
		start := i
		runes := 0
		j := i
		for j < len(text) {
			r, size := utf8.DecodeRuneInString(text[j:])
			if refIsWordRune(r) || (r == '$' && j == start) {
				j += size
				runes++
				continue
			}
			if (r == '\'' || r == '’' || r == '-' || r == '.') && j > start && j+size < len(text) {
				next, _ := utf8.DecodeRuneInString(text[j+size:])
				if refIsWordRune(next) {
					j += size
					runes++
					continue
				}
			}
			break
		}
		word := text[start:j]
		// "http" begins a URL: its host is read as a URL.
		if j+3 <= len(text) && text[j:j+3] == "://" && (strings.EqualFold(word, "http") || strings.EqualFold(word, "https")) {
			end := strings.IndexAny(text[start:], " \t\r\n\"'<>")
			if end < 0 {
				end = len(text) - start
			}
			t.urls(text[start : start+end])
			i = start + end
			t.prev = ""
			continue
		}
		i = j
		if runes < refMinWordRunes || runes > refMaxWordRunes {
			if runes > refMaxWordRunes {
				// SpamBayes's "skip" token: a long run (an encoded blob,
				// a tracking code) said by its first character and
				// length in tens.
				first, _ := utf8.DecodeRuneInString(word)
				t.add(prefix + "skip:" + string(refFoldRune(first)) + strconv.Itoa(runes/10*10))
			}
			t.prev = ""
			continue
		}
		folded := t.fold(word)
		if strings.HasPrefix(folded, "www.") {
			t.host(folded)
		}
		t.add(prefix + folded)
		if pairs {
			if t.prev != "" {
				t.add(prefix + t.prev + " " + folded)
			}
			t.prev = folded
		}
	}
	t.prev = ""
}

// fold lower-cases a word and writes ё as е, reusing the refTokenizer's
// buffer; the result is a new string.
func (t *refTokenizer) fold(word string) string {
	ascii := true
	for i := 0; i < len(word); i++ {
		if c := word[i]; c >= utf8.RuneSelf || (c >= 'A' && c <= 'Z') {
			ascii = false
			break
		}
	}
	if ascii {
		return word
	}
	t.buf = t.buf[:0]
	for i := 0; i < len(word); {
		c := word[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			t.buf = append(t.buf, c)
			i++
			continue
		}
		// Russian byte by byte, as refFoldRune would give it, without the
		// case tables (a third of the refTokenizer's time on Cyrillic text):
		// А-П (D0 90-9F) become а-п (D0 B0-BF), Р-Я (D0 A0-AF) р-я (D1
		// 80-8F), Ё (D0 81) and ё (D1 91) е (D0 B5), Ѐ-Џ (D0 80-8F)
		// ѐ-џ (D1 90-9F); а-я stay.
		if i+1 < len(word) && (c == 0xD0 || c == 0xD1) {
			d := word[i+1]
			switch {
			case c == 0xD0 && d == 0x81, c == 0xD1 && d == 0x91:
				t.buf = append(t.buf, 0xD0, 0xB5)
				i += 2
				continue
			case c == 0xD0 && d >= 0x90 && d <= 0x9F:
				t.buf = append(t.buf, 0xD0, d+0x20)
				i += 2
				continue
			case c == 0xD0 && d >= 0xA0 && d <= 0xAF:
				t.buf = append(t.buf, 0xD1, d-0x20)
				i += 2
				continue
			case c == 0xD0 && d >= 0x80 && d <= 0x8F:
				t.buf = append(t.buf, 0xD1, d+0x10)
				i += 2
				continue
			case c == 0xD0 && d >= 0xB0 && d <= 0xBF, c == 0xD1 && d >= 0x80 && d <= 0x8F:
				t.buf = append(t.buf, c, d)
				i += 2
				continue
			}
		}
		r, size := utf8.DecodeRuneInString(word[i:])
		t.buf = utf8.AppendRune(t.buf, refFoldRune(r))
		i += size
	}
	return string(t.buf)
}

// refFoldString is fold for strings outside the refTokenizer.
func refFoldString(s string) string {
	return strings.Map(refFoldRune, s)
}

func refFoldRune(r rune) rune {
	r = unicode.ToLower(r)
	if r == 'ё' {
		r = 'е'
	}
	return r
}

func refIsWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
	}
	if r >= 0x400 && r <= 0x481 {
		return true // Cyrillic letters, without the tables
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

// refTruncateBytes cuts s to at most n bytes at a rune boundary.
func refTruncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func refHasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// refIndexFold is strings.Index ignoring ASCII case, for an ASCII lower-case
// needle.
func refIndexFold(s, needle string) int {
	for i := 0; i+len(needle) <= len(s); i++ {
		if refHasPrefixFold(s[i:], needle) {
			return i
		}
	}
	return -1
}
