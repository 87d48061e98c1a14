package i18n

import (
	"strconv"
	"strings"
	"time"
)

// Decimal writes value with prec digits after the decimal separator of
// language (key number.decimal_separator: "3.7" in English, "3,7" in
// Russian). It is for people: the API and CSV keep machine numbers.
func (c *Catalog) Decimal(language string, value float64, prec int) string {
	text := strconv.FormatFloat(value, 'f', prec, 64)
	if separator := c.T(language, "number.decimal_separator"); separator != "." && separator != "number.decimal_separator" {
		text = strings.Replace(text, ".", separator, 1)
	}
	return text
}

// Size writes a size in bytes for people: bytes under 1 KB, else KB or MB
// with one decimal, in language ("3.4 KB", "3,4 КБ").
func (c *Catalog) Size(language string, bytes int64) string {
	switch {
	case bytes < 1024:
		return c.T(language, "size.bytes", bytes)
	case bytes < 1024*1024:
		return c.T(language, "size.kb", c.Decimal(language, float64(bytes)/1024, 1))
	default:
		return c.T(language, "size.mb", c.Decimal(language, float64(bytes)/(1024*1024), 1))
	}
}

// Wait says how long to wait, for people, rounded up: seconds under a
// minute, else minutes ("40 s", "3 min"; "40 с", "3 мин"). Short units need
// no plural forms.
func (c *Catalog) Wait(language string, d time.Duration) string {
	seconds := max(1, int((d+time.Second-1)/time.Second))
	if seconds < 60 {
		return c.T(language, "duration.seconds", seconds)
	}
	return c.T(language, "duration.minutes", (seconds+59)/60)
}
