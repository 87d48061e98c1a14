package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/service"
)

// maxBodyBytes bounds request bodies. The largest legitimate body of these
// endpoints is a few kilobytes; the bound keeps a client from filling memory.
const maxBodyBytes = 1 << 20

// internalErrorText is all a client learns of a server fault; the cause goes
// to the log, since it may hold paths, queries or other internals.
const internalErrorText = "internal error"

// errorBody is the JSON of every error response.
type errorBody struct {
	Error  string            `json:"error"`
	Fields map[string]string `json:"fields,omitempty"`
}

// listBody is the JSON of every list response. NextCursor is "" on the last
// page.
type listBody[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// httpError is a problem the API layer finds itself (malformed JSON, a bad
// path or query value), sent with its status and message as they are.
type httpError struct {
	status  int
	message string
}

func (e *httpError) Error() string { return e.message }

func errorf(status int, format string, args ...any) error {
	return &httpError{status: status, message: fmt.Sprintf(format, args...)}
}

// decodeJSON reads the request body as exactly one JSON value into v,
// refusing fields v does not have. Its errors are *httpError with the status
// to send: 415 for a Content-Type other than JSON, 413 for a body over
// maxBodyBytes, 400 for anything malformed.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	if r.ContentLength > maxBodyBytes {
		return errorf(http.StatusRequestEntityTooLarge, "request body is larger than %d bytes", maxBodyBytes)
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return errorf(http.StatusRequestEntityTooLarge, "request body is larger than %d bytes", maxBodyBytes)
	}
	if err != nil {
		return errorf(http.StatusBadRequest, "could not read the request body: %v", err)
	}
	return decodeBytes(data, v)
}

// decodeBytes is the JSON half of [decodeJSON].
func decodeBytes(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return errorf(http.StatusBadRequest, "request body is empty: send a JSON object")
	}
	decoder := json.NewDecoder(bytes.NewReader(data))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(v); err != nil {
		return describeJSONError(err, data)
	}
	end := int(decoder.InputOffset())
	if rest := bytes.TrimLeft(data[end:], " \t\r\n"); len(rest) > 0 {
		return errorf(http.StatusBadRequest, "invalid JSON: unexpected data after the JSON value at offset %d", len(data)-len(rest))
	}
	if field := nulField(reflect.ValueOf(v), ""); field != "" {
		return errorf(http.StatusBadRequest, "invalid JSON: %s must not contain NUL characters (\\u0000)", field)
	}
	return nil
}

// checkContentType accepts application/json with an optional UTF-8 charset,
// the only encoding JSON allows (RFC 8259).
func checkContentType(header string) error {
	mediaType, params, err := mime.ParseMediaType(header)
	if err != nil || mediaType != "application/json" {
		return errorf(http.StatusUnsupportedMediaType, "Content-Type must be application/json, not %q", header)
	}
	if charset, ok := params["charset"]; ok && !strings.EqualFold(charset, "utf-8") {
		return errorf(http.StatusUnsupportedMediaType, "JSON must be UTF-8, not charset %q", charset)
	}
	return nil
}

// describeJSONError turns a decoding error into a 400 that names the problem
// and where it is, so that a client can fix its request.
func describeJSONError(err error, data []byte) error {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return errorf(http.StatusBadRequest, "invalid JSON: %v at offset %d", syntax, syntax.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(http.StatusBadRequest, "invalid JSON: unexpected end of input at offset %d", len(data))
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return errorf(http.StatusBadRequest, "invalid JSON: the body must be %s, not %s", jsonKind(typeErr.Type), typeErr.Value)
	case errors.As(err, &typeErr):
		return errorf(http.StatusBadRequest, "invalid JSON: %s must be %s, not %s (offset %d)", typeErr.Field, jsonKind(typeErr.Type), typeErr.Value, typeErr.Offset)
	}
	// encoding/json reports unknown fields only in its message.
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return errorf(http.StatusBadRequest, "unknown field %s", field)
	}
	var invalid *json.InvalidUnmarshalError
	if errors.As(err, &invalid) {
		return fmt.Errorf("decode request: %w", err) // a bug here, not in the request
	}
	return errorf(http.StatusBadRequest, "invalid JSON: %v", err)
}

// jsonKind names the JSON a Go type takes, for messages.
func jsonKind(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "a JSON value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number in range"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "a JSON value"
}

// respond writes v as JSON with status. Encoding happens before anything is
// written, so that a failure can still become a clean 500.
func respond(w http.ResponseWriter, status int, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	writeRaw(w, status, data)
	return nil
}

// writeRaw writes an encoded JSON body. No-store, because responses carry
// account data and once-shown token secrets.
func writeRaw(w http.ResponseWriter, status int, data []byte) {
	header := w.Header()
	header.Set("Content-Type", "application/json; charset=utf-8")
	header.Set("X-Content-Type-Options", "nosniff")
	header.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(data)
	if len(data) == 0 || data[len(data)-1] != '\n' {
		w.Write([]byte{'\n'})
	}
}

// writeBody writes an error body.
func (a *api) writeBody(w http.ResponseWriter, status int, body errorBody) {
	data, err := json.Marshal(body)
	if err != nil { // cannot happen for strings; keep the client answered anyway
		a.logger.Error("api: encode error body", "error", err)
		data = []byte(`{"error":"` + internalErrorText + `"}`)
	}
	writeRaw(w, status, data)
}

// writeError maps err to its status and writes it as JSON: validation errors
// become 400 with fields in the caller's language, service sentinels 401,
// 403, 404, 409 and 429 (sign-in throttle, connection tests), and anything
// else a logged 500 with a generic text.
// actor may be nil (before or without authentication): texts are then in
// English.
func (a *api) writeError(w http.ResponseWriter, r *http.Request, actor *service.Actor, err error) {
	language := i18n.Fallback
	if actor != nil {
		language = a.svc.UserLanguage(r.Context(), actor.User)
	}
	text := func(key string) string { return i18n.Default.T(language, key) }
	var (
		plain      *httpError
		invalid    *service.ValidationError
		conflict   *service.ConflictError
		status     int
		body       errorBody
		authHeader bool
	)
	switch {
	case errors.As(err, &plain):
		status, body.Error = plain.status, plain.message
	case errors.As(err, &invalid):
		status, body.Error, body.Fields = http.StatusBadRequest, text("error.validation"), invalid.Translated(language)
	case errors.Is(err, service.ErrThrottled):
		status, body.Error = http.StatusTooManyRequests, text("error.throttled")
		var throttled *service.ThrottledError
		if errors.As(err, &throttled) {
			w.Header().Set("Retry-After", strconv.Itoa(throttled.Seconds()))
		}
	case errors.Is(err, service.ErrTooManyTests):
		status, body.Error = http.StatusTooManyRequests, text("error.test_rate")
		w.Header().Set("Retry-After", strconv.Itoa(int(service.ConnectionTestWindow.Seconds())))
	case errors.Is(err, service.ErrUnauthenticated):
		status, body.Error, authHeader = http.StatusUnauthorized, text("error.unauthenticated"), true
	case errors.Is(err, service.ErrInvalidText):
		status, body.Error = http.StatusBadRequest, text("error.invalid_text")
	case errors.Is(err, service.ErrForbidden):
		status, body.Error = http.StatusForbidden, text("error.forbidden")
	case errors.Is(err, service.ErrNotFound):
		status, body.Error = http.StatusNotFound, text("error.not_found")
	case errors.As(err, &conflict):
		status, body.Error = http.StatusConflict, i18n.Default.Message(language, conflict.Message)
	case errors.Is(err, service.ErrConflict):
		status, body.Error = http.StatusConflict, text("error.conflict")
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads an answer.
		a.logger.Debug("api: request canceled", "method", r.Method, "path", r.URL.Path)
		return
	default:
		a.logger.Error("api: request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		status, body.Error = http.StatusInternalServerError, internalErrorText
	}
	if authHeader {
		w.Header().Set("WWW-Authenticate", authChallenge)
	}
	a.writeBody(w, status, body)
}
