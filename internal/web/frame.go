package web

import (
	"html"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The HTML frame is a sandbox without scripts and with an opaque origin, so
// neither the frame nor the page can measure its content and fit the frame
// to it (letting the page's script measure would take allow-same-origin,
// which would make the message's document this app's origin: one sanitiser
// slip from the session). Instead the server estimates the height from the
// sanitised HTML (lines of text at the frame's 14px/1.45 type, block ends,
// images at their given size, scaled to the frame's width) twice, for a
// desktop frame (about 90 characters a line, 760 px wide) and a phone's
// (about 44 characters, 350 px), and picks a height class for each from a
// ladder of fixed heights (app.css .frame-h-N, and .frame-p-N under 640 px):
// the frame grows with the content, so the page scrolls rather than a small
// box; past the ladder's top the frame scrolls, and the reader may resize it.

// frameWidth is a kind of frame the height is estimated for.
type frameWidth struct {
	chars  int // characters in a line of text
	pixels int // the frame's inner width, which scales wider images down
	class  string
}

var (
	frameDesktop = frameWidth{chars: 90, pixels: 760, class: "frame-h-"}
	framePhone   = frameWidth{chars: 44, pixels: 350, class: "frame-p-"}
)

// frameLine is the height of a line of text in the frame, in pixels; the
// frame's body margins add frameMargins.
const frameLine, frameMargins = 20, 20

// frameLadder are the frame heights in pixels, about 15% apart, matching
// .frame-h-N and .frame-p-N (N counting from 1) in app.css.
var frameLadder = func() []int {
	var ladder []int
	for height := 96.0; height <= 6000; height *= 1.15 {
		ladder = append(ladder, int(height))
	}
	return ladder
}()

// frameBreak matches the tags that end a line of text in the frame;
// frameMargin those with a margin of about a line after them.
var (
	frameBreak  = regexp.MustCompile(`(?i)<br\b[^>]*>|</(?:p|div|li|tr|h[1-6]|blockquote|pre|table|ul|ol|dt|dd)\s*>|<hr\b[^>]*>`)
	frameMargin = regexp.MustCompile(`(?i)</(?:p|h[1-6]|blockquote|ul|ol|table|pre)\s*>`)
	frameTag    = regexp.MustCompile(`<[^>]*>`)
	frameImage  = regexp.MustCompile(`(?i)<img\b[^>]*>`)
	// frameShown is an image the frame shows: a blocked remote image has
	// lost its source and shows only its alt text.
	frameShown   = regexp.MustCompile(`(?i)\ssrc="(?:data:|https?:)`)
	frameHeight  = regexp.MustCompile(`(?i)\sheight="(\d{1,4})"`)
	frameWidthOf = regexp.MustCompile(`(?i)\swidth="(\d{1,4})"`)
	frameHeading = regexp.MustCompile(`(?i)</h[12]\s*>`)
)

// cidPlaceholder stands for a cid: image in the HTML the frame's height is
// estimated from (a 1x1 GIF).
const cidPlaceholder = "data:image/gif;base64,R0lGODlhAQABAAAAACw="

// estimateFrameHeight guesses the content's height in pixels in a frame of
// the given width: each run of text between line-ending tags wraps at its
// characters a line, a <br> alone is an empty line, paragraphs add a
// margin, big headings a line, and an image its height (scaled down when it
// is wider than the frame) or else 200 px (a blocked one: its alt text).
func estimateFrameHeight(body string, width frameWidth) int {
	const unsizedImage = 200
	lines := len(frameMargin.FindAllStringIndex(body, -1))*2/3 + len(frameHeading.FindAllStringIndex(body, -1))
	pixels := 0
	for _, image := range frameImage.FindAllString(body, -1) {
		height := frameHeight.FindStringSubmatch(image)
		switch {
		case !frameShown.MatchString(image):
			lines++ // its alt text
		case height != nil:
			h, _ := strconv.Atoi(height[1])
			if w := frameWidthOf.FindStringSubmatch(image); w != nil {
				if wide, _ := strconv.Atoi(w[1]); wide > width.pixels {
					h = h * width.pixels / wide
				}
			}
			pixels += h + 4
		default:
			pixels += unsizedImage
		}
	}
	textLines := func(segment string) int {
		text := html.UnescapeString(frameTag.ReplaceAllString(segment, " "))
		n := utf8.RuneCountInString(strings.Join(strings.Fields(text), " "))
		return (n + width.chars - 1) / width.chars
	}
	at := 0
	for _, match := range frameBreak.FindAllStringIndex(body, -1) {
		n := textLines(body[at:match[0]])
		if n == 0 && strings.HasPrefix(strings.ToLower(body[match[0]:match[1]]), "<br") {
			n = 1
		}
		lines += n
		at = match[1]
	}
	lines += textLines(body[at:])
	return lines*frameLine + pixels + frameMargins
}

// frameStep gives the ladder's class number for a height: the first step
// as tall as it, else the top one.
func frameStep(height int) int {
	for i, step := range frameLadder {
		if height <= step {
			return i + 1
		}
	}
	return len(frameLadder)
}

// frameHeightClass gives the frame's height classes for a message's
// sanitised HTML: one for a desktop frame, one for a phone's.
func frameHeightClass(body string) string {
	return frameDesktop.class + strconv.Itoa(frameStep(estimateFrameHeight(body, frameDesktop))) + " " +
		framePhone.class + strconv.Itoa(frameStep(estimateFrameHeight(body, framePhone)))
}

// messageFrameStyle is the style of the frame's page: the web admin's type,
// images no wider than the frame, and on a phone tables and long words
// that fit its width instead of scrolling sideways.
const messageFrameStyle = "<style>body{margin:10px;font-family:system-ui,sans-serif;font-size:14px;line-height:1.45;" +
	"color:#1d2330;overflow-wrap:anywhere}img{max-width:100%;height:auto}" +
	"@media (max-width:640px){table{max-width:100%!important;width:auto!important}td,th{width:auto!important}" +
	"pre{white-space:pre-wrap}}</style>"
