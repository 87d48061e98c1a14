package spam

import (
	"bytes"
	"hash/maphash"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"pochta.dev/pochta/internal/mime"
)

// Limits of the tokenizer, so that a huge message costs what a large one
// does.
const (
	// MaxTokens bounds the distinct tokens taken from one message.
	MaxTokens = 4000
	// maxTextBytes bounds the bytes of a message's text, and separately of
	// its HTML, that are read for words.
	maxTextBytes = 256 << 10
	// maxHeaderBytes bounds the bytes of one header field's value read.
	maxHeaderBytes = 2 << 10
	// maxHeaderFields bounds the header fields read.
	maxHeaderFields = 200
	// minWordRunes and maxWordRunes bound a word; longer runs (base64,
	// hashes) are not words.
	minWordRunes = 2
	maxWordRunes = 30
)

// skippedHeaders are fields that say nothing about the message or carry
// another filter's verdict (which would teach this one to copy it).
var skippedHeaders = map[string]bool{
	"date": true, "delivery-date": true, "in-reply-to": true, "references": true,
	"content-length": true, "lines": true, "status": true, "x-status": true, "x-keywords": true, "x-uid": true,
}

// addressHeaders are read as addresses: the address, its domain and the
// display name's words.
var addressHeaders = map[string]string{
	"from": "from", "to": "to", "cc": "to", "reply-to": "reply", "return-path": "rtrn", "sender": "from",
}

// Tokenize gives the distinct tokens of a message with the default
// [Tokenizer]: no word pairs.
func Tokenize(m *mime.Message) []string { return Tokenizer{}.Tokenize(m) }

// Tokenizer turns messages into tokens. The zero value is the default.
type Tokenizer struct {
	// Pairs adds the pairs of adjacent words of the body and the subject
	// ("free money"). Off by default: with chi-square combining they
	// repeat what their words already say, and the evaluation in
	// docs/benchmarks.md rated worse with them.
	Pairs bool
}

// Tokenize gives the distinct tokens of a message, in the order they were
// first seen, at most [MaxTokens] of them:
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
//   - attachments as "att:type" and "att:.ext";
//   - session 10's features (features.go): the subject's pairs of
//     adjacent words ("subject:free money"), a Received field's hosts by
//     role ("rcvd:from:host", "rcvd:by:host", "rcvd:with:esmtp"), and the
//     HTML's ways of hiding text ("html:display:none", "html:color=white"),
//     and how many links the message holds ("url:count:3" for 4-7);
//   - session 11's (features.go): the names of each three header fields
//     in a row, Received left out ("hord:from>to>subject").
//
// A message with no text still gives its header tokens; the caller logs a
// message that gives none. A token may share memory with the message's
// text (a lower-case ASCII word is not copied) and with the message's other
// tokens (new ones are made in one arena): a caller that keeps tokens long
// after the message clones them.
func (z Tokenizer) Tokenize(m *mime.Message) []string {
	t := tokenizers.Get().(*tokenizer)
	t.pairs = z.Pairs
	t.message(m)
	tokens := slices.Clone(t.tokens)
	t.reset()
	tokenizers.Put(t)
	return tokens
}

// tokenizers keeps tokenizers for reuse: a message's set of seen tokens
// grows to hundreds of entries, and making it anew for every message
// received was a good part of the tokenizer's cost (docs/benchmarks.md).
var tokenizers = sync.Pool{New: func() any { return newTokenizer() }}

// reset readies t for the next message. Its tokens' strings are left to
// the caller: the next message's go into a new arena.
func (t *tokenizer) reset() {
	t.seen.reset()
	t.arena.Reset()
	clear(t.tokens)
	t.tokens, t.prev, t.pairs = t.tokens[:0], "", false
}

type tokenizer struct {
	seen   tokenSet
	tokens []string
	// arena holds the message's new tokens made in a buffer (arenaString).
	arena strings.Builder
	// prev is the previous word of the current run, for pairs; "" at the
	// start of a run.
	prev string
	// buf is fold's, token the token being made by words.
	buf, token []byte
	// joined is addJoined's.
	joined []byte
	pairs  bool
}

func newTokenizer() *tokenizer {
	return &tokenizer{seen: newTokenSet(), tokens: make([]string, 0, 512)}
}

func (t *tokenizer) full() bool { return len(t.tokens) >= MaxTokens }

// add records a token once.
func (t *tokenizer) add(token string) {
	if t.full() {
		return
	}
	h := maphash.String(t.seen.seed, token)
	slot, ok := findToken(&t.seen, t.tokens, token, h)
	if ok {
		return
	}
	t.tokens = append(t.tokens, token)
	t.seen.insert(t.tokens, slot, h, len(t.tokens)-1)
}

// addBytes is add for a token made in a buffer: it becomes a string only
// when it is new.
func (t *tokenizer) addBytes(token []byte) {
	if t.full() {
		return
	}
	h := maphash.Bytes(t.seen.seed, token)
	slot, ok := findToken(&t.seen, t.tokens, token, h)
	if ok {
		return
	}
	t.tokens = append(t.tokens, t.arenaString(token))
	t.seen.insert(t.tokens, slot, h, len(t.tokens)-1)
}

func (t *tokenizer) message(m *mime.Message) {
	if m == nil {
		return
	}
	if m.Subject != "" {
		t.words(truncateBytes(m.Subject, maxHeaderBytes), "subject:", t.pairs)
	}
	for i, f := range m.Header {
		if i >= maxHeaderFields || t.full() {
			break
		}
		t.header(f)
	}
	for _, a := range m.Attachments {
		t.addJoined("att:", strings.ToLower(a.ContentType))
		if dot := strings.LastIndexByte(a.Filename, '.'); dot >= 0 && len(a.Filename)-dot <= 8 {
			t.addJoined("att:.", strings.ToLower(a.Filename[dot+1:]))
		}
	}
	t.words(truncateBytes(m.Text, maxTextBytes), "", t.pairs)
	if m.HTML != "" {
		t.html(truncateBytes(m.HTML, maxTextBytes))
	}
	messageFeatures(m, len(t.tokens), t.add)
}

// header tokenizes one header field.
func (t *tokenizer) header(f mime.HeaderField) {
	name := f.LowerName()
	// The field's name, as bogofilter's "head:Name": which fields a
	// message has says which software wrote and sent it (X-Mailer,
	// MIME-Version, List-Id, X-MSMail-Priority), whatever their values.
	// Other filters' verdicts are left out, as their values are.
	if validName(name) && !strings.HasPrefix(name, "x-spam") {
		t.addJoined("hn:", name)
	}
	if name == "message-id" {
		// The domain part says which software made the message.
		if at := strings.LastIndexByte(f.Value, '@'); at >= 0 {
			domain := strings.Trim(foldString(truncateBytes(f.Value[at+1:], 100)), "<> ")
			if net.ParseIP(strings.Trim(domain, "[]")) != nil {
				domain = "ip"
			}
			t.addJoined("h:message-id@", domain)
		}
		return
	}
	if skippedHeaders[name] || strings.HasPrefix(name, "x-spam") || name == "subject" || !validName(name) {
		return
	}
	value := truncateBytes(f.Value, maxHeaderBytes)
	headerFeatures(name, value, t.add)
	if prefix, ok := addressHeaders[name]; ok {
		t.addresses(value, prefix+":")
		return
	}
	switch name {
	case "content-type":
		// The media type and charset, not the boundary (random text).
		i := 0
		for part := range strings.SplitSeq(value, ";") {
			part = strings.TrimSpace(foldString(part))
			if i == 0 {
				t.addJoined("h:type:", part)
			} else if rest, ok := strings.CutPrefix(part, "charset="); ok {
				t.addJoined("h:charset:", strings.Trim(rest, `"' `))
			}
			i++
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
func (t *tokenizer) hosts(value, prefix string) {
	for field := range strings.FieldsFuncSeq(value, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '(' || r == ')' || r == '[' || r == ']' || r == ';' || r == '<' || r == '>'
	}) {
		if strings.IndexByte(field, '.') > 0 && len(field) <= 100 {
			t.addJoined(prefix, strings.Trim(foldString(field), "."))
		}
	}
}

// addresses tokenizes an address header loosely (a bad header is still
// worth its words): each address and its domain, and the other words.
func (t *tokenizer) addresses(value, prefix string) {
	for field := range strings.FieldsFuncSeq(value, func(r rune) bool {
		return r == ',' || r == ' ' || r == '<' || r == '>' || r == '"' || r == '\t' || r == ';'
	}) {
		at := strings.LastIndexByte(field, '@')
		if at < 0 {
			t.words(field, prefix, false)
			continue
		}
		address := foldString(field)
		t.addJoined(prefix, address)
		// The domain is cut at the fold's own '@': a character may fold to
		// fewer or more bytes (the Kelvin sign to "k", İ to "i̇"), so the
		// field's offset of it is not the fold's (that crashed the judge,
		// and cut "KKK@example.com" to "@e.com", a domain a spammer could
		// vary to dodge learning).
		if at = strings.LastIndexByte(address, '@'); at >= 0 {
			t.addJoined(prefix, address[at:])
		}
	}
}

func validName(name string) bool {
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
func (t *tokenizer) html(h string) {
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
func (t *tokenizer) urls(s string) {
	for {
		i := indexFold(s, "http")
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
func (t *tokenizer) host(host string) {
	if at := strings.LastIndexByte(host, '@'); at >= 0 {
		host = host[at+1:]
	}
	host = strings.TrimSuffix(foldString(host), ".")
	if host == "" || len(host) > 100 || !utf8.ValidString(host) {
		return
	}
	if net.ParseIP(host) != nil || isNumericHost(host) {
		t.add("url:ip")
		return
	}
	t.addJoined("url:", host)
	for {
		dot := strings.IndexByte(host, '.')
		if dot < 0 || strings.Count(host, ".") < 2 {
			return
		}
		host = host[dot+1:]
		t.addJoined("url:", host)
	}
}

// isNumericHost tells a host written as a number (a decimal or hex IPv4
// address, dotted or not), which only those hiding where a link goes use.
func isNumericHost(host string) bool {
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
//
// ASCII is read byte by byte, without decoding; a token is made in the
// tokenizer's buffer, prefix and fold, and becomes a string only when it
// was not seen before in the message (most of a message's words repeat).
// TestTokenizeSameAsBefore proves the tokens are what they were.
func (t *tokenizer) words(text, prefix string, pairs bool) {
	t.prev = ""
	for i := 0; i < len(text) && !t.full(); {
		c := text[i]
		if c < utf8.RuneSelf {
			if !asciiWordByte(c) && c != '$' {
				i++
				if c != ' ' && c != '-' && c != ',' {
					t.prev = "" // a pair does not span punctuation or lines
				}
				continue
			}
		} else if r, size := utf8.DecodeRuneInString(text[i:]); !isWordRune(r) {
			i += size
			t.prev = ""
			continue
		}
		// A word: word runes, with ' - . inside between word runes.
		start := i
		runes := 0
		j := i
		for j < len(text) {
			c := text[j]
			if c < utf8.RuneSelf {
				if asciiWordByte(c) || (c == '$' && j == start) {
					j++
					runes++
					continue
				}
				if (c == '\'' || c == '-' || c == '.') && j > start && j+1 < len(text) && wordRuneAt(text, j+1) {
					j++
					runes++
					continue
				}
				break
			}
			if (c == 0xD0 || c == 0xD1) && j+1 < len(text) && text[j+1]&0xC0 == 0x80 {
				// Cyrillic U+0400-U+047F, all word runes, without
				// decoding (most of a Russian text's bytes).
				j += 2
				runes++
				continue
			}
			r, size := utf8.DecodeRuneInString(text[j:])
			if isWordRune(r) {
				j += size
				runes++
				continue
			}
			if r == '’' && j > start && j+size < len(text) && wordRuneAt(text, j+size) {
				j += size
				runes++
				continue
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
		if runes < minWordRunes || runes > maxWordRunes {
			if runes > maxWordRunes {
				// SpamBayes's "skip" token: a long run (an encoded blob,
				// a tracking code) said by its first character and
				// length in tens.
				first, _ := utf8.DecodeRuneInString(word)
				t.token = append(append(t.token[:0], prefix...), "skip:"...)
				t.token = utf8.AppendRune(t.token, foldRune(first))
				t.token = strconv.AppendInt(t.token, int64(runes/10*10), 10)
				t.addBytes(t.token)
			}
			t.prev = ""
			continue
		}
		if prefix == "" && lowerASCII(word) {
			// The word as it is in the text: no copy at all.
			if strings.HasPrefix(word, "www.") {
				t.host(word)
			}
			t.add(word)
			if pairs {
				t.pair(prefix, word)
			}
			continue
		}
		t.token = t.appendFold(append(t.token[:0], prefix...), word)
		folded := t.token[len(prefix):]
		if bytes.HasPrefix(folded, []byte("www.")) {
			t.host(string(folded))
		}
		t.addBytes(t.token)
		if pairs {
			t.pair(prefix, string(folded))
		}
	}
	t.prev = ""
}

// pair adds the pair of the previous word and folded, and makes folded the
// previous word.
func (t *tokenizer) pair(prefix, folded string) {
	if t.prev != "" {
		t.add(prefix + t.prev + " " + folded)
	}
	t.prev = folded
}

// asciiWordByte is isWordRune for an ASCII byte.
func asciiWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// wordRuneAt reports whether text[i:] begins with a word rune.
func wordRuneAt(text string, i int) bool {
	if c := text[i]; c < utf8.RuneSelf {
		return asciiWordByte(c)
	}
	r, _ := utf8.DecodeRuneInString(text[i:])
	return isWordRune(r)
}

// lowerASCII reports whether word is ASCII without capitals: its own fold.
func lowerASCII(word string) bool {
	for i := 0; i < len(word); i++ {
		if c := word[i]; c >= utf8.RuneSelf || (c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// fold lower-cases a word and writes ё as е, reusing the tokenizer's
// buffer; the result is a new string.
func (t *tokenizer) fold(word string) string {
	if lowerASCII(word) {
		return word
	}
	t.buf = t.appendFold(t.buf[:0], word)
	return string(t.buf)
}

// appendFold appends word lower-cased, ё as е, to buf.
func (t *tokenizer) appendFold(buf []byte, word string) []byte {
	for i := 0; i < len(word); {
		c := word[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			buf = append(buf, c)
			i++
			continue
		}
		// Russian byte by byte, as foldRune would give it, without the
		// case tables (a third of the tokenizer's time on Cyrillic text):
		// А-П (D0 90-9F) become а-п (D0 B0-BF), Р-Я (D0 A0-AF) р-я (D1
		// 80-8F), Ё (D0 81) and ё (D1 91) е (D0 B5), Ѐ-Џ (D0 80-8F)
		// ѐ-џ (D1 90-9F); а-я stay.
		if i+1 < len(word) && (c == 0xD0 || c == 0xD1) {
			d := word[i+1]
			switch {
			case c == 0xD0 && d == 0x81, c == 0xD1 && d == 0x91:
				buf = append(buf, 0xD0, 0xB5)
				i += 2
				continue
			case c == 0xD0 && d >= 0x90 && d <= 0x9F:
				buf = append(buf, 0xD0, d+0x20)
				i += 2
				continue
			case c == 0xD0 && d >= 0xA0 && d <= 0xAF:
				buf = append(buf, 0xD1, d-0x20)
				i += 2
				continue
			case c == 0xD0 && d >= 0x80 && d <= 0x8F:
				buf = append(buf, 0xD1, d+0x10)
				i += 2
				continue
			case c == 0xD0 && d >= 0xB0 && d <= 0xBF, c == 0xD1 && d >= 0x80 && d <= 0x8F:
				buf = append(buf, c, d)
				i += 2
				continue
			}
		}
		r, size := utf8.DecodeRuneInString(word[i:])
		buf = utf8.AppendRune(buf, foldRune(r))
		i += size
	}
	return buf
}

// foldString is fold for strings outside the tokenizer.
func foldString(s string) string {
	return strings.Map(foldRune, s)
}

func foldRune(r rune) rune {
	r = unicode.ToLower(r)
	if r == 'ё' {
		r = 'е'
	}
	return r
}

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
	}
	if r >= 0x400 && r <= 0x481 {
		return true // Cyrillic letters, without the tables
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

// truncateBytes cuts s to at most n bytes at a rune boundary.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// indexFold is strings.Index ignoring ASCII case, for an ASCII lower-case
// needle.
func indexFold(s, needle string) int {
	for i := 0; i+len(needle) <= len(s); i++ {
		if hasPrefixFold(s[i:], needle) {
			return i
		}
	}
	return -1
}
