package fetch

import (
	"reflect"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/pop3"
)

// The fetch's plan from LIST, UIDL and the stored UIDs, without a server.
func TestPlanPOP3(t *testing.T) {
	sizes := func(list ...int64) []pop3.MessageSize {
		var out []pop3.MessageSize
		for i, size := range list {
			out = append(out, pop3.MessageSize{Number: i + 1, Size: size})
		}
		return out
	}
	uids := func(list ...string) []pop3.MessageUID {
		var out []pop3.MessageUID
		for i, uid := range list {
			out = append(out, pop3.MessageUID{Number: i + 1, UID: uid})
		}
		return out
	}
	long := strings.Repeat("u", 201)
	tests := []struct {
		name        string
		sizes       []pop3.MessageSize
		uids        []pop3.MessageUID
		withoutUIDL bool
		known       map[string]bool
		limits      mailboxLimits
		want        pop3Plan
	}{
		{name: "empty", want: pop3Plan{keyOf: map[int]string{}, present: map[string]bool{}}},
		{
			name: "new and stored", sizes: sizes(10, 20, 30), uids: uids("a", "b", "c"), known: map[string]bool{"b": true},
			want: pop3Plan{fetch: []int{1, 3}, storedOnServer: []int{2},
				keyOf: map[int]string{1: "a", 2: "b", 3: "c"}, present: map[string]bool{"a": true, "b": true, "c": true}},
		},
		{
			name: "too large and over the limit", sizes: sizes(10, 5000, 30, 40), uids: uids("a", "b", "c", "d"),
			limits: mailboxLimits{maxBytes: 1024, maxMessages: 2},
			want: pop3Plan{fetch: []int{1, 3}, tooLarge: []pop3.MessageSize{{Number: 2, Size: 5000}}, leftOver: 1,
				keyOf: map[int]string{1: "a", 2: "b", 3: "c", 4: "d"}, present: map[string]bool{"a": true, "b": true, "c": true, "d": true}},
		},
		{
			name: "a stored message over the limits is still deletable", sizes: sizes(5000, 10), uids: uids("a", "b"),
			known: map[string]bool{"a": true}, limits: mailboxLimits{maxBytes: 1024, maxMessages: 1},
			want: pop3Plan{fetch: []int{2}, storedOnServer: []int{1},
				keyOf: map[int]string{1: "a", 2: "b"}, present: map[string]bool{"a": true, "b": true}},
		},
		{
			name: "repeated UIDLs told apart by place", sizes: sizes(1, 2, 3), uids: uids("x", "x", "x"), known: map[string]bool{"x": true},
			want: pop3Plan{fetch: []int{2, 3}, storedOnServer: []int{1},
				keyOf: map[int]string{1: "x", 2: "x#2", 3: "x#3"}, present: map[string]bool{"x": true, "x#2": true, "x#3": true}},
		},
		{
			name: "a number UIDL says twice is planned once, as first said", sizes: sizes(10, 20),
			uids: []pop3.MessageUID{{Number: 1, UID: "a"}, {Number: 2, UID: "b"}, {Number: 1, UID: "c"}},
			want: pop3Plan{fetch: []int{1, 2}, ignored: 1,
				keyOf: map[int]string{1: "a", 2: "b"}, present: map[string]bool{"a": true, "b": true}},
		},
		{
			name: "a number UIDL gives and LIST does not is not asked for", sizes: sizes(10),
			uids: []pop3.MessageUID{{Number: 1, UID: "a"}, {Number: 7, UID: "z"}},
			want: pop3Plan{fetch: []int{1}, ignored: 1, keyOf: map[int]string{1: "a"}, present: map[string]bool{"a": true}},
		},
		{
			name: "a number LIST says twice is fetched once", sizes: []pop3.MessageSize{{Number: 1, Size: 10}, {Number: 1, Size: 99}},
			withoutUIDL: true,
			want:        pop3Plan{fetch: []int{1}, ignored: 1, keyOf: map[int]string{}, present: map[string]bool{}},
		},
		{
			name: "a long UIDL stored as its hash", sizes: sizes(1), uids: uids(long),
			want: pop3Plan{fetch: []int{1}, keyOf: map[int]string{1: uidKey(long)}, present: map[string]bool{uidKey(long): true}},
		},
		{
			name: "without UIDL every message is new", sizes: sizes(10, 20), withoutUIDL: true, known: map[string]bool{"a": true},
			limits: mailboxLimits{maxMessages: 1},
			want:   pop3Plan{fetch: []int{1}, leftOver: 1, keyOf: map[int]string{}, present: map[string]bool{}},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got := planPOP3(test.sizes, test.uids, test.withoutUIDL, test.known, test.limits)
			if !reflect.DeepEqual(got, test.want) {
				t.Errorf("plan:\n got %+v\nwant %+v", got, test.want)
			}
		})
	}
	if !strings.HasPrefix(uidKey(long), "uidl-sha256:") {
		t.Errorf("uidKey(long) = %q", uidKey(long))
	}
}
