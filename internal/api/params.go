package api

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/service"
)

// Page sizes of every list.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// query reads query parameters, collecting what is wrong with them by
// parameter, so that one 400 names every bad value at once, in the caller's
// language, like a service validation error.
type query struct {
	values url.Values
	errs   map[string]i18n.Message
}

func newQuery(r *http.Request) *query {
	return &query{values: r.URL.Query(), errs: map[string]i18n.Message{}}
}

func (q *query) fail(name, key string, args ...any) {
	if _, seen := q.errs[name]; !seen {
		q.errs[name] = i18n.M(key, args...)
	}
}

// err gives the collected problems as a [service.ValidationError], or nil.
func (q *query) err() error {
	if len(q.errs) == 0 {
		return nil
	}
	return &service.ValidationError{Fields: q.errs}
}

func (q *query) get(name string) string { return q.values.Get(name) }

// limit reads "limit": 1 to maxLimit, defaultLimit when absent.
func (q *query) limit() int { return q.limitOr(defaultLimit) }

// limitOr reads "limit": 1 to maxLimit, fallback when absent.
func (q *query) limitOr(fallback int) int {
	raw := q.get("limit")
	if raw == "" {
		return fallback
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > maxLimit {
		q.fail("limit", "error.range", i18n.Key("field.limit"), 1, maxLimit)
		return fallback
	}
	return n
}

// ids reads a parameter that may repeat, each a positive integer ID; nil
// when absent.
func (q *query) ids(name string) []int64 {
	var ids []int64
	for _, raw := range q.values[name] {
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || id <= 0 {
			q.fail(name, "error.invalid", i18n.Key("field."+name))
			return nil
		}
		ids = append(ids, id)
	}
	return ids
}

// boolean reads "true" or "false"; nil when absent.
func (q *query) boolean(name string) *bool {
	raw := q.get(name)
	if raw == "" {
		return nil
	}
	if raw != "true" && raw != "false" {
		q.fail(name, "error.invalid", i18n.Key("field."+name))
		return nil
	}
	value := raw == "true"
	return &value
}

// siteID reads "site" as a site code and gives its ID; 0 when absent.
func (q *query) siteID(a *api, r *http.Request, actor *service.Actor) (int64, error) {
	code := q.get("site")
	if code == "" {
		return 0, nil
	}
	site, err := a.svc.Site(r.Context(), actor, code)
	switch {
	case errors.Is(err, service.ErrNotFound):
		q.fail("site", "error.unknown_site", i18n.Key("field.site"))
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("site %q: %w", code, err)
	}
	return site.ID, nil
}

// id reads a positive integer ID parameter; 0 when absent.
func (q *query) id(name string) int64 {
	raw := q.get(name)
	if raw == "" {
		return 0
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		q.fail(name, "error.invalid", i18n.Key("field."+name))
		return 0
	}
	return id
}

// time reads an RFC 3339 time; the zero time when absent.
func (q *query) time(name string) time.Time {
	raw := q.get(name)
	if raw == "" {
		return time.Time{}
	}
	at, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		q.fail(name, "error.time", i18n.Key("field."+name))
		return time.Time{}
	}
	return at
}

// oneOf reads a parameter that must be one of allowed; "" when absent.
func (q *query) oneOf(name, key string, allowed ...string) string {
	raw := q.get(name)
	if raw == "" {
		return ""
	}
	for _, value := range allowed {
		if raw == value {
			return raw
		}
	}
	q.fail(name, key, i18n.Key("field."+name))
	return ""
}

// allOf reads a parameter that may name several of allowed, repeated
// (level=error&level=reply) or comma-separated (level=error,reply), or
// both; each once, in the order given; nil when absent.
func (q *query) allOf(name, key string, allowed ...string) []string {
	var chosen []string
	for _, raw := range q.values[name] {
		for _, value := range strings.Split(raw, ",") {
			value = strings.TrimSpace(value)
			if value == "" {
				continue
			}
			if !slices.Contains(allowed, value) {
				q.fail(name, key, i18n.Key("field."+name))
				return nil
			}
			if !slices.Contains(chosen, value) {
				chosen = append(chosen, value)
			}
		}
	}
	return chosen
}

// Cursors are opaque to clients: base64url of the last row's key, so that
// the key can change form later without clients noticing.

func encodeCursor(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

func encodeIDCursor(id int64) string { return encodeCursor(strconv.FormatInt(id, 10)) }

// cursor reads "cursor" as a string key; "" when absent.
func (q *query) cursor() string {
	raw := q.get("cursor")
	if raw == "" {
		return ""
	}
	key, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(key) == 0 {
		q.fail("cursor", "error.invalid", i18n.Key("field.cursor"))
		return ""
	}
	return string(key)
}

// cursorID reads "cursor" as a row ID; 0 when absent.
func (q *query) cursorID() int64 {
	key := q.cursor()
	if key == "" {
		return 0
	}
	id, err := strconv.ParseInt(key, 10, 64)
	if err != nil || id <= 0 {
		q.fail("cursor", "error.invalid", i18n.Key("field.cursor"))
		return 0
	}
	return id
}

// fetchSize is how many rows to ask for to fill a page of limit and learn
// whether more follow. The service caps pages at maxLimit (and silently
// turns larger requests into its default), so a full-size page asks for
// exactly maxLimit.
func fetchSize(limit int) int {
	if limit < maxLimit {
		return limit + 1
	}
	return maxLimit
}

// trimPage cuts rows fetched with [fetchSize] to limit and reports whether a
// next page may follow. Only a page of maxLimit rows can be followed by an
// empty page.
func trimPage[T any](rows []T, limit int) ([]T, bool) {
	if len(rows) > limit {
		return rows[:limit], true
	}
	if rows == nil {
		rows = []T{}
	}
	return rows, len(rows) == limit && limit == maxLimit
}

// pathID reads an ID of the path. Anything but the canonical form of a
// positive whole number names nothing: 404, as for an ID that does not
// exist, and as the web admin answers (see service.ParseID).
func pathID(r *http.Request, name string) (int64, error) {
	raw := r.PathValue(name)
	id, ok := service.ParseID(raw)
	if !ok {
		return 0, errorf(http.StatusNotFound, "no such %s %q: an id is a positive whole number without sign or leading zeros", name, raw)
	}
	return id, nil
}
