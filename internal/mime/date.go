package mime

import (
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var dateLayouts = []string{
	"Mon, 2 Jan 2006 15:04:05 -0700",
	"2 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04 -0700",
	"2 Jan 2006 15:04 -0700",
	"Mon, 2 Jan 06 15:04:05 -0700",
	"2 Jan 06 15:04:05 -0700",
	"Mon, 2 January 2006 15:04:05 -0700",
	"Mon Jan 2 15:04:05 2006 -0700",
	"Mon Jan 2 15:04:05 -0700 2006",
	"Mon Jan 2 15:04:05 2006",
	"Mon, 2 Jan 2006 15:04:05",
	"2 Jan 2006 15:04:05",
	"Mon, 2 Jan 2006",
	"2 Jan 2006",
	"Mon, Jan 2 2006 15:04:05 -0700",
	"Mon, Jan 2, 2006 15:04:05 -0700",
	"Jan 2 2006 15:04:05 -0700",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02T15:04:05-0700",
	"2006-01-02 15:04:05",
	"02.01.2006 15:04:05 -0700",
	"02.01.2006 15:04:05",
	"1/2/2006 15:04:05 -0700",
	"Mon, 2-Jan-2006 15:04:05 -0700",
	"2-Jan-2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 3:04:05 PM -0700",
}

var zoneNames = map[string]string{
	"UT": "+0000", "UTC": "+0000", "GMT": "+0000", "Z": "+0000", "WET": "+0000",
	"EST": "-0500", "EDT": "-0400", "CST": "-0600", "CDT": "-0500",
	"MST": "-0700", "MDT": "-0600", "PST": "-0800", "PDT": "-0700",
	"CET": "+0100", "CEST": "+0200", "MET": "+0100", "MEST": "+0200", "EET": "+0200", "EEST": "+0300",
	"BST": "+0100", "IST": "+0530", "JST": "+0900", "KST": "+0900", "MSK": "+0300", "MSD": "+0400",
	"HKT": "+0800", "SGT": "+0800", "AEST": "+1000", "AEDT": "+1100", "NZST": "+1200",
}

var (
	reSpaces       = regexp.MustCompile(`\s+`)
	reCore         = regexp.MustCompile(`\d{1,2} [A-Z][a-z]{2} \d{2,4} \d{1,2}:\d\d(:\d\d)?`)
	reOneDigitSec  = regexp.MustCompile(`(\d\d:\d\d):(\d)(\s|$)`)
	reGluedZone    = regexp.MustCompile(`(\d:\d\d(?::\d\d)?)([+-]\d{4})`)
	reFraction     = regexp.MustCompile(`(\d:\d\d:\d\d)\.\d+`)
	reUnsignedZone = regexp.MustCompile(`(\d:\d\d(?::\d\d)?) ([01]\d[0-5]\d)$`)
	reZoneColon    = regexp.MustCompile(`([+-])(\d\d):(\d\d)$`)
	reZoneShort    = regexp.MustCompile(`([+-])(\d{3})$`)
	reZoneHour     = regexp.MustCompile(`([+-])(\d{1,2})$`)
)

// ParseDate reads a Date header value tolerantly: RFC 5322 and its
// obsolete forms, comments, zone names (EST, MSK, ...), missing seconds
// or zone, "+03:00" zones, ISO 8601, two-digit years, extra text after
// the zone. It returns the zero time when nothing fits.
func ParseDate(v string) time.Time {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 200 {
		return time.Time{}
	}
	// Most mail writes RFC 5322's own form; try it before net/mail's
	// list of layouts, whose failed attempts cost more than the parse.
	if t, err := time.Parse("Mon, 2 Jan 2006 15:04:05 -0700", v); err == nil {
		if t = sane(t); !t.IsZero() {
			return fixZone(t)
		}
	}
	if t, err := mail.ParseDate(v); err == nil {
		if t = sane(t); !t.IsZero() {
			return fixZone(t)
		}
	}
	s, _ := stripComments(v)
	s = strings.ReplaceAll(s, "+-", "-")
	s = reOneDigitSec.ReplaceAllString(s, "$1:0$2$3")
	s = reGluedZone.ReplaceAllString(s, "$1 $2")
	s = reFraction.ReplaceAllString(s, "$1")
	s = reUnsignedZone.ReplaceAllString(s, "$1 +$2")
	s = strings.ReplaceAll(s, ",", ", ")
	s = reSpaces.ReplaceAllString(strings.TrimSpace(s), " ")
	s = strings.ReplaceAll(s, " ,", ",")
	s = strings.TrimSuffix(s, ".")
	f := strings.Fields(s)
	// Replace a zone name, drop trailing junk after the zone.
	for i, w := range f {
		u := strings.ToUpper(strings.Trim(w, "()\""))
		if z, ok := zoneNames[u]; ok {
			f[i] = z
			f = f[:i+1]
			break
		}
		if (strings.HasPrefix(w, "+") || strings.HasPrefix(w, "-")) && i > 2 {
			f = f[:i+1]
			break
		}
	}
	// Fix the day name with a comma: "Mon,2" handled by ReplaceAll above;
	// capitalise month and day names.
	for i, w := range f {
		if len(w) >= 3 && isLetters(w) {
			f[i] = strings.ToUpper(w[:1]) + strings.ToLower(w[1:])
		} else if len(w) > 3 && isLetters(strings.TrimSuffix(w, ",")) {
			w = strings.TrimSuffix(w, ",")
			f[i] = strings.ToUpper(w[:1]) + strings.ToLower(w[1:]) + ","
		}
	}
	s = strings.Join(f, " ")
	s = reZoneColon.ReplaceAllString(s, "$1$2$3")
	if m := reZoneShort.FindStringSubmatch(s); m != nil {
		s = s[:len(s)-4] + m[1] + "0" + m[2]
	} else if m := reZoneHour.FindStringSubmatch(s); m != nil && strings.Count(s, ":") >= 1 {
		h, _ := strconv.Atoi(m[2])
		s = s[:len(s)-len(m[0])] + m[1] + twoDigits(h) + "00"
	}
	// Long day and month names to short ones.
	s = shortNames(s)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return sane(t)
		}
	}
	// Without the day name.
	if i := strings.Index(s, ", "); i >= 0 && i <= 10 {
		rest := s[i+2:]
		for _, l := range dateLayouts {
			if t, err := time.Parse(l, rest); err == nil {
				return sane(t)
			}
		}
	}
	// Last resort: day, month, year and time, zone ignored (UTC).
	if m := reCore.FindStringSubmatch(s); m != nil {
		for _, l := range []string{"2 Jan 2006 15:04:05", "2 Jan 2006 15:04", "2 Jan 06 15:04:05", "2 Jan 06 15:04"} {
			if t, err := time.Parse(l, m[0]); err == nil {
				return sane(t)
			}
		}
	}
	return time.Time{}
}

// fixZone gives a time parsed with a zone abbreviation Go does not know
// (it then has offset 0) the offset from zoneNames.
func fixZone(t time.Time) time.Time {
	name, off := t.Zone()
	if off != 0 {
		return t
	}
	z, ok := zoneNames[strings.ToUpper(name)]
	if !ok || z == "+0000" {
		return t
	}
	h, _ := strconv.Atoi(z[1:3])
	m, _ := strconv.Atoi(z[3:5])
	secs := h*3600 + m*60
	if z[0] == '-' {
		secs = -secs
	}
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.FixedZone(z, secs))
}

func sane(t time.Time) time.Time {
	switch y := t.Year(); {
	case y >= 0 && y < 70:
		t = t.AddDate(2000, 0, 0)
	case y >= 70 && y < 200:
		// two-digit years, and "0102" from Y2K-buggy mailers (1900+102)
		t = t.AddDate(1900, 0, 0)
	}
	if t.Year() < 1900 || t.Year() > 9999 {
		return time.Time{}
	}
	return t
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n % 100)
}

func isLetters(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

var longNames = strings.NewReplacer(
	"Monday", "Mon", "Tuesday", "Tue", "Wednesday", "Wed", "Thursday", "Thu", "Friday", "Fri", "Saturday", "Sat", "Sunday", "Sun",
	"Tues", "Tue", "Thur", "Thu", "Thurs", "Thu",
	"January", "Jan", "February", "Feb", "March", "Mar", "April", "Apr", "June", "Jun", "July", "Jul",
	"August", "Aug", "September", "Sep", "Sept", "Sep", "October", "Oct", "November", "Nov", "December", "Dec",
)

func shortNames(s string) string { return longNames.Replace(s) }
