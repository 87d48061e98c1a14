// Package download writes stored bytes — attachments, message sources,
// logos — as HTTP responses, the same for the web admin and the API.
//
// Whatever the bytes claim to be, a browser must not run them as this
// site: every response says nosniff and carries a sandboxing Content
// Security Policy, and an attachment is shown in place only when it is an
// image of a type that holds no script.
package download

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/htmlindex"

	"pochta.dev/pochta/internal/store"
)

// File is what a response says of the bytes it carries.
type File struct {
	// Name is the file name offered for saving (RFC 6266, with an RFC 5987
	// UTF-8 form when not ASCII); "" offers none.
	Name string
	// ContentType is sent when it parses; otherwise, or when empty, the
	// bytes go as application/octet-stream.
	ContentType string
	Size        int64
	// Inline asks the browser to show the bytes rather than save them.
	Inline bool
	// Cache is the Cache-Control value; "" is "private, no-store".
	Cache string
}

// InlineImageTypes are the attachment types shown in place (cid: images
// of HTML mail); SVG is not among them: it is a document that may hold
// script.
var InlineImageTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true,
	"image/bmp": true, "image/avif": true}

// IsInlineImage reports whether contentType names one of InlineImageTypes.
func IsInlineImage(contentType string) bool {
	media, _, err := mime.ParseMediaType(contentType)
	return err == nil && InlineImageTypes[strings.ToLower(media)]
}

// Attachment describes a stored attachment: its original name (or
// "attachment-ID"), its type, shown in place only when inline is asked
// and it is an inline image type.
func Attachment(a store.Attachment, inline bool) File {
	name := a.Filename
	if name == "" {
		name = "attachment-" + strconv.FormatInt(a.ID, 10)
	}
	return File{Name: name, ContentType: a.ContentType, Size: a.Size, Inline: inline && IsInlineImage(a.ContentType)}
}

// Source describes a message's exact source: a .eml download, or plain
// text to read in the browser. The text is the exact bytes too, so it goes
// in the message's own charset (SourceCharset of its first bytes): 8-bit
// KOI8-R mail read as UTF-8 would be replacement characters.
func Source(messageID, size int64, inline bool, charset string) File {
	if inline {
		if charset == "" {
			charset = "utf-8"
		}
		return File{ContentType: "text/plain; charset=" + charset, Size: size, Inline: true}
	}
	return File{Name: "message-" + strconv.FormatInt(messageID, 10) + ".eml", ContentType: "message/rfc822", Size: size}
}

// Logo describes a mail service's logo, an image shown in the pages (it
// changes rarely, but must not outlive a new upload unchecked).
func Logo(contentType string, size int) File {
	return File{ContentType: contentType, Size: int64(size), Inline: true, Cache: "private, no-cache"}
}

// Write sends file's headers and then body, unless the request is HEAD.
// An error copying the body is the connection's: the status is sent by
// then, so there is nothing to tell the client.
func Write(w http.ResponseWriter, r *http.Request, file File, body io.Reader) {
	contentType := file.ContentType
	if _, _, err := mime.ParseMediaType(contentType); err != nil || contentType == "" {
		contentType = "application/octet-stream"
	}
	disposition := "attachment"
	if file.Inline {
		disposition = "inline"
	}
	if file.Name != "" {
		if formatted := mime.FormatMediaType(disposition, map[string]string{"filename": file.Name}); formatted != "" {
			disposition = formatted
		}
	}
	cache := file.Cache
	if cache == "" {
		cache = "private, no-store"
	}
	header := w.Header()
	header.Set("Content-Type", contentType)
	header.Set("Content-Disposition", disposition)
	header.Set("Content-Length", strconv.FormatInt(file.Size, 10))
	header.Set("X-Content-Type-Options", "nosniff")
	header.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	header.Set("Cache-Control", cache)
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = io.Copy(w, body)
	}
}

// SourceHead is how much of a source [SourceCharset] looks at: the header
// and the first parts' headers of any real message.
const SourceHead = 64 << 10

// charsetParameter finds a Content-Type's charset parameter, quoted or not.
var charsetParameter = []byte("charset=")

// SourceCharset names the charset to show a message's exact bytes in, from
// its first bytes (head, up to [SourceHead]): "utf-8" for 7-bit or UTF-8
// text, else the first charset a Content-Type declares that browsers know
// (the WHATWG label's canonical name: "koi8-r", "windows-1251"), else
// fallback (the mailbox's charset) when browsers know it, else
// "windows-1252", where every byte is a character.
func SourceCharset(head []byte, fallback string) string {
	if isASCIIOrUTF8(head) {
		return "utf-8"
	}
	known := func(label string) string {
		encoding, err := htmlindex.Get(strings.TrimSpace(label))
		if err != nil {
			return ""
		}
		name, err := htmlindex.Name(encoding)
		if err != nil || name == "utf-8" || name == "replacement" {
			return ""
		}
		return strings.ToLower(name)
	}
	lower := bytes.ToLower(head)
	for rest := lower; ; {
		at := bytes.Index(rest, charsetParameter)
		if at < 0 {
			break
		}
		rest = rest[at+len(charsetParameter):]
		label := rest
		if end := bytes.IndexAny(label, "; \t\r\n"); end >= 0 {
			label = label[:end]
		}
		if name := known(strings.Trim(string(label), `"'`)); name != "" {
			return name
		}
	}
	if name := known(fallback); name != "" {
		return name
	}
	return "windows-1252"
}

// isASCIIOrUTF8 reports whether head is UTF-8, allowing a character cut at
// its end.
func isASCIIOrUTF8(head []byte) bool {
	for i := 0; i < len(head); {
		if head[i] < 0x80 {
			i++
			continue
		}
		r, size := utf8.DecodeRune(head[i:])
		if r == utf8.RuneError && size <= 1 {
			return len(head)-i < 4 && len(head) == SourceHead // a character cut by the head's end
		}
		i += size
	}
	return true
}
