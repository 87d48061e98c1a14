// Package htmlsafe turns the HTML body of a received message into HTML that
// is safe to show in the web admin: no script, no event handlers, no active
// URLs, no forms, no styles that load anything, and remote images held back
// until the reader asks for them. The result is shown in a sandboxed frame
// under a strict Content-Security-Policy as well, so that a gap here is not
// a hole by itself.
//
// Messages are stored with their HTML as received and sanitised when shown,
// so that a better policy applies to mail already stored.
package htmlsafe

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/microcosm-cc/bluemonday"
)

// Options say how to treat images.
type Options struct {
	// AllowRemote lets http(s) images load; false (the default) blanks
	// their source and counts them in Result.RemoteBlocked.
	AllowRemote bool
	// CID maps a cid: reference (without "cid:") to the URL that serves
	// that inline part, or "" when the message has no such part.
	CID func(contentID string) string
}

// Result is sanitised HTML and what was held back.
type Result struct {
	HTML          string
	RemoteBlocked int // remote images whose source was blanked
}

// safeCSSValue matches style values that cannot load or run anything: no
// url(), expression(), behaviours, imports or escapes that could hide them.
var safeCSSValue = regexp.MustCompile(`^[^()\\;:<>@"'{}]*$|^(rgb|rgba|hsl|hsla)\([0-9.,%\s]+\)$`)

// styleProperties are the CSS properties mail layouts use that carry no
// URLs or positioning that could paint over the page around the frame.
var styleProperties = []string{
	"color", "background-color", "font", "font-family", "font-size", "font-style", "font-weight", "line-height",
	"text-align", "text-decoration", "text-indent", "text-transform", "letter-spacing", "white-space", "vertical-align",
	"margin", "margin-top", "margin-right", "margin-bottom", "margin-left",
	"padding", "padding-top", "padding-right", "padding-bottom", "padding-left",
	"border", "border-top", "border-right", "border-bottom", "border-left", "border-color", "border-style",
	"border-width", "border-collapse", "border-spacing", "border-radius",
	"width", "height", "max-width", "min-width", "max-height", "min-height", "display", "list-style-type",
}

func newPolicy() *bluemonday.Policy {
	policy := bluemonday.UGCPolicy()
	policy.AllowURLSchemes("http", "https", "mailto", "cid")
	policy.RequireNoReferrerOnLinks(true)
	policy.AddTargetBlankToFullyQualifiedLinks(true)
	policy.AllowDataURIImages()
	policy.AllowAttrs("align", "valign", "bgcolor", "width", "height", "border", "cellpadding", "cellspacing", "colspan", "rowspan").
		OnElements("table", "tr", "td", "th", "tbody", "thead", "tfoot", "img", "p", "div", "span", "font", "center", "hr")
	policy.AllowAttrs("color", "face", "size").OnElements("font")
	policy.AllowElements("font", "center", "u", "s", "strike", "big", "small")
	policy.AllowStyles(styleProperties...).Matching(safeCSSValue).Globally()
	return policy
}

// Sanitize makes an HTML body safe to show.
func Sanitize(html string, options Options) Result {
	policy := newPolicy()
	var result Result
	policy.RewriteSrc(func(u *url.URL) {
		switch strings.ToLower(u.Scheme) {
		case "cid":
			target := ""
			if options.CID != nil {
				target = options.CID(u.Opaque + u.Path)
			}
			replaceURL(u, target)
		case "http", "https", "":
			if u.Scheme == "" && u.Host == "" {
				// A relative source means nothing in a message.
				replaceURL(u, "")
				return
			}
			if !options.AllowRemote {
				result.RemoteBlocked++
				replaceURL(u, "")
			}
		}
	})
	result.HTML = policy.Sanitize(html)
	return result
}

// replaceURL overwrites u with target (a path on this server, or nothing).
func replaceURL(u *url.URL, target string) {
	parsed, err := url.Parse(target)
	if err != nil || target == "" {
		parsed = &url.URL{}
	}
	*u = *parsed
}
