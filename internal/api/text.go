package api

import (
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"
)

// Text that reaches the service must be valid UTF-8 without NUL characters:
// PostgreSQL's text type holds neither. The store refuses such text on both
// backends (store.ErrInvalidText, a 400 here); this earlier check exists to
// name the offending field or parameter in the answer. JSON decoding
// already replaces invalid UTF-8 with U+FFFD, so bodies need only the NUL
// check; paths, queries and logins need both.

// badText reports whether s cannot be stored as text.
func badText(s string) bool { return strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) }

// checkURLText refuses a request whose path or query values are not
// storable text.
func checkURLText(r *http.Request) error {
	if badText(r.URL.Path) {
		return errorf(http.StatusBadRequest, "the path must be UTF-8 text without NUL characters")
	}
	for name, values := range r.URL.Query() {
		for _, value := range values {
			if badText(name) || badText(value) {
				return errorf(http.StatusBadRequest, "query parameter %q must be UTF-8 text without NUL characters", strings.ToValidUTF8(strings.ReplaceAll(name, "\x00", ""), "?"))
			}
		}
	}
	return nil
}

// nulField gives the JSON path of the first string in v that holds a NUL
// character, or "" when there is none. v is a decoded request body.
func nulField(v reflect.Value, path string) string {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return ""
		}
		return nulField(v.Elem(), path)
	case reflect.String:
		if strings.IndexByte(v.String(), 0) >= 0 {
			return path
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			field := v.Type().Field(i)
			if !field.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(field.Tag.Get("json"), ",")
			if name == "" {
				name = field.Name
			}
			if found := nulField(v.Field(i), joinPath(path, name)); found != "" {
				return found
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if found := nulField(v.Index(i), path+"[]"); found != "" {
				return found
			}
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			if strings.IndexByte(iter.Key().String(), 0) >= 0 {
				return joinPath(path, "(key)")
			}
			if found := nulField(iter.Value(), joinPath(path, iter.Key().String())); found != "" {
				return found
			}
		}
	}
	return ""
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
