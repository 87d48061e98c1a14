package htmlsafe

import (
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// Each vector must come out without anything that could run, navigate,
// submit or load.
func TestXSSVectorsDoNotSurvive(t *testing.T) {
	vectors := []struct {
		name, html string
		banned     []string
	}{
		{"script element", `<p>hi</p><script>alert(1)</script>`, []string{"<script", "alert"}},
		{"script in svg", `<svg><script>alert(1)</script></svg>`, []string{"<script", "<svg", "alert"}},
		{"svg onload", `<svg onload="alert(1)"><circle r="4"/></svg>`, []string{"onload", "<svg"}},
		{"event handler", `<img src="x" onerror="alert(1)">`, []string{"onerror", "alert"}},
		{"body onload", `<body onload="alert(1)">text</body>`, []string{"onload"}},
		{"javascript link", `<a href="javascript:alert(1)">x</a>`, []string{"javascript:"}},
		{"javascript link, mixed case and spaces", `<a href=" JaVaScRiPt:alert(1)">x</a>`, []string{"javascript", "alert"}},
		{"entity-encoded javascript", `<a href="&#106;avascript:alert(1)">x</a>`, []string{"avascript"}},
		{"data html link", `<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>`, []string{"data:"}},
		{"vbscript", `<a href="vbscript:msgbox(1)">x</a>`, []string{"vbscript"}},
		{"css expression", `<div style="width: expression(alert(1))">x</div>`, []string{"expression"}},
		{"css url", `<div style="background-image: url(https://evil.example/x.png)">x</div>`, []string{"url(", "evil"}},
		{"css import", `<style>@import url(https://evil.example/x.css);</style>`, []string{"@import", "evil", "<style"}},
		{"meta refresh", `<meta http-equiv="refresh" content="0;url=https://evil.example/">`, []string{"<meta", "refresh"}},
		{"base href", `<base href="https://evil.example/">`, []string{"<base", "evil"}},
		{"form", `<form action="https://evil.example/"><input name="p"><button>go</button></form>`, []string{"<form", "<input", "action"}},
		{"iframe", `<iframe src="https://evil.example/"></iframe>`, []string{"<iframe", "evil"}},
		{"object and embed", `<object data="x.swf"></object><embed src="x.swf">`, []string{"<object", "<embed"}},
		{"link stylesheet", `<link rel="stylesheet" href="https://evil.example/x.css">`, []string{"<link", "evil"}},
		{"srcdoc", `<iframe srcdoc="<script>alert(1)</script>"></iframe>`, []string{"srcdoc", "alert"}},
		{"math href", `<math><maction actiontype="statusline" xlink:href="javascript:alert(1)">x</maction></math>`, []string{"javascript", "xlink"}},
		{"remote image", `<img src="https://tracker.example/pixel.gif">`, []string{"tracker.example"}},
		{"remote background attribute", `<table background="https://tracker.example/bg.png"><tr><td>x</td></tr></table>`, []string{"tracker.example"}},
	}
	for _, vector := range vectors {
		t.Run(vector.name, func(t *testing.T) {
			sanitised := Sanitize(vector.html, Options{}).HTML
			if found := unsafeIn(sanitised); found != "" {
				t.Errorf("%s survived: %s", found, sanitised)
			}
			got := strings.ToLower(sanitised)
			for _, banned := range vector.banned {
				if strings.Contains(got, strings.ToLower(banned)) {
					t.Errorf("%q survived: %s", banned, got)
				}
			}
		})
	}
}

func TestImages(t *testing.T) {
	html := `<p style="color: #c00; font-weight: bold">Hi</p><img src="cid:logo@x"><img src="https://example.com/a.png"><img src="cid:missing">`
	cid := func(id string) string {
		if id == "logo@x" {
			return "/messages/7/cid/logo@x"
		}
		return ""
	}
	blocked := Sanitize(html, Options{CID: cid})
	if blocked.RemoteBlocked != 1 || strings.Contains(blocked.HTML, "example.com") {
		t.Errorf("remote image not blocked: %+v", blocked)
	}
	if !strings.Contains(blocked.HTML, `src="/messages/7/cid/logo@x"`) || strings.Contains(blocked.HTML, "cid:") {
		t.Errorf("cid image not rewritten: %s", blocked.HTML)
	}
	if !strings.Contains(blocked.HTML, "color: #c00") || !strings.Contains(blocked.HTML, "font-weight: bold") {
		t.Errorf("harmless style lost: %s", blocked.HTML)
	}
	allowed := Sanitize(html, Options{AllowRemote: true, CID: cid})
	if allowed.RemoteBlocked != 0 || !strings.Contains(allowed.HTML, "https://example.com/a.png") {
		t.Errorf("remote image not allowed on request: %+v", allowed)
	}
}

// unsafeIn parses sanitised HTML the way a browser would and names the
// first thing in it that could run, navigate away unasked, submit or load
// from elsewhere, or "" when there is none.
func unsafeIn(sanitised string) string {
	tokens := html.NewTokenizer(strings.NewReader(sanitised))
	for {
		switch tokens.Next() {
		case html.ErrorToken:
			return ""
		case html.StartTagToken, html.SelfClosingTagToken:
			token := tokens.Token()
			switch token.Data {
			case "script", "iframe", "frame", "object", "embed", "form", "input", "button", "textarea", "select",
				"meta", "base", "link", "style", "svg", "math":
				return "element " + token.Data
			}
			for _, attribute := range token.Attr {
				name, value := strings.ToLower(attribute.Key), strings.ToLower(strings.TrimSpace(attribute.Val))
				if strings.HasPrefix(name, "on") || name == "srcdoc" || name == "formaction" {
					return "attribute " + name
				}
				if name == "href" || name == "src" || name == "action" || name == "background" {
					if value == "" || strings.HasPrefix(value, "/") || strings.HasPrefix(value, "http://") || strings.HasPrefix(value, "https://") ||
						strings.HasPrefix(value, "mailto:") || strings.HasPrefix(value, "#") || strings.HasPrefix(value, "data:image/") {
						if name == "src" && (strings.HasPrefix(value, "http://") || strings.HasPrefix(value, "https://")) {
							return "remote " + name
						}
						continue
					}
					if !strings.Contains(value, ":") {
						continue // a relative reference
					}
					return name + "=" + value
				}
				if name == "style" && (strings.Contains(value, "url(") || strings.Contains(value, "expression")) {
					return "style " + value
				}
			}
		}
	}
}

func FuzzSanitize(f *testing.F) {
	for _, seed := range []string{`<p>x</p>`, `<img src="cid:a">`, `<a href="javascript:x">`, `<div style="color:red;width:expression(1)">`,
		`<img src="https://example.com/x.png">`, `<svg><a xlink:href="javascript:1">x</a></svg>`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		if found := unsafeIn(Sanitize(input, Options{}).HTML); found != "" {
			t.Fatalf("%s survived sanitising %q", found, input)
		}
	})
}

// Links open in a new tab (the web admin's frame lets such a tab escape its
// sandbox) without giving the page a handle on the opener or the address
// it came from, whatever target and rel the message set.
func TestLinksOpenInNewTab(t *testing.T) {
	for _, link := range []string{
		`<a href="https://shop.example/sale">Sale</a>`,
		`<a href="http://shop.example/" target="_top" rel="opener">Top</a>`,
		`<a href="https://shop.example/" target="_parent">Parent</a>`,
	} {
		out := Sanitize(link, Options{}).HTML
		doc, err := html.Parse(strings.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		var anchor *html.Node
		var walk func(*html.Node)
		walk = func(n *html.Node) {
			if n.Type == html.ElementNode && n.Data == "a" {
				anchor = n
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
		}
		walk(doc)
		if anchor == nil {
			t.Fatalf("%s: no link left in %s", link, out)
		}
		attrs := map[string]string{}
		for _, a := range anchor.Attr {
			attrs[a.Key] = a.Val
		}
		rel := " " + attrs["rel"] + " "
		if attrs["target"] != "_blank" || !strings.Contains(rel, " noopener ") || !strings.Contains(rel, " noreferrer ") ||
			strings.Contains(rel, " opener ") {
			t.Errorf("%s became %s", link, out)
		}
	}
}
