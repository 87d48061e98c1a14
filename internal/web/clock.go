package web

import (
	"html/template"
	"time"

	"pochta.dev/pochta/internal/i18n"
)

// clock is how one reader reads times: in their zone (their own, else their
// site's, else the server's) and in their language's format, "06.12.2026
// 11:05" in Russian. The page puts it in every time's cell with the full
// date, seconds and zone on hover and the exact instant in <time datetime>;
// the API keeps RFC 3339 in UTC.
type clock struct {
	Lang string
	Zone *time.Location
}

// in gives at in the reader's zone.
func (c clock) in(at time.Time) time.Time {
	if c.Zone == nil {
		return at.UTC()
	}
	return at.In(c.Zone)
}

// Short writes at as the lists and forms show it: the catalog's
// format.datetime layout ("02.01.2006 15:04" in Russian).
func (c clock) Short(at time.Time) string {
	return c.in(at).Format(i18n.Default.T(c.Lang, "format.datetime"))
}

// Full writes at with its seconds, zone name and offset, for the hover:
// "06.12.2026 11:05:09 Europe/Moscow (UTC+03:00)".
func (c clock) Full(at time.Time) string {
	local := c.in(at)
	return local.Format(i18n.Default.T(c.Lang, "format.datetime_full")) + " " + local.Location().String() +
		" (UTC" + local.Format("-07:00") + ")"
}

// Date writes the day of at as <input type="date"> wants it, in the
// reader's zone.
func (c clock) Date(at time.Time) string { return c.in(at).Format(time.DateOnly) }

// timeOf reads the times the views carry: a time.Time or a *time.Time (nil
// for "never"); anything else, or a zero time, is no time.
func timeOf(value any) (time.Time, bool) {
	switch v := value.(type) {
	case time.Time:
		return v, !v.IsZero()
	case *time.Time:
		if v == nil {
			return time.Time{}, false
		}
		return *v, !v.IsZero()
	}
	return time.Time{}, false
}

// formatTime is the template function datetime: {{datetime $.Clock .At}}
// gives a <time> element with the short form, the full one as its title and
// the instant in RFC 3339; no time is an empty cell (so that {{with}}
// can say "never").
func formatTime(c clock, value any) template.HTML {
	at, ok := timeOf(value)
	if !ok {
		return ""
	}
	return template.HTML(`<time datetime="` + template.HTMLEscapeString(at.UTC().Format(time.RFC3339)) + `" title="` +
		template.HTMLEscapeString(c.Full(at)) + `">` + template.HTMLEscapeString(c.Short(at)) + `</time>`)
}
