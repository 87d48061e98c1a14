// Package download writes stored bytes — attachments, message sources,
// logos — as HTTP responses, the same for the web admin and the API.
//
// Whatever the bytes claim to be, a browser must not run them as this
// site: every response says nosniff and carries a sandboxing Content
// Security Policy, and an attachment is shown in place only when it is an
// image of a type that holds no script.
package download

import (
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

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
// text to read in the browser.
func Source(messageID, size int64, inline bool) File {
	if inline {
		return File{ContentType: "text/plain; charset=utf-8", Size: size, Inline: true}
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
