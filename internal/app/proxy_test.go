package app

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestTrustProxies(t *testing.T) {
	proxies, err := ParseTrustedProxies("127.0.0.1, 10.0.0.0/8, ::1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, peer, forwardedFor, proto string
		wantAddr, wantProto             string
	}{
		{"no proxy: headers dropped", "192.0.2.7:5000", "203.0.113.9", "https", "192.0.2.7:5000", ""},
		{"trusted proxy", "127.0.0.1:5000", "203.0.113.9", "https", "203.0.113.9:0", "https"},
		{"a chain of trusted proxies", "10.1.2.3:5000", "203.0.113.9, 10.0.0.5", "https", "203.0.113.9:0", "https"},
		{"a client's made-up entry is left of the real one", "127.0.0.1:5000", "198.51.100.1, 203.0.113.9", "", "203.0.113.9:0", ""},
		{"IPv6 proxy", "[::1]:5000", "2001:db8::7", "", "[2001:db8::7]:0", ""},
		{"no header from a trusted proxy", "127.0.0.1:5000", "", "", "127.0.0.1:5000", ""},
		{"garbage", "127.0.0.1:5000", "not-an-address", "", "127.0.0.1:5000", ""},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			var gotAddr, gotProto string
			handler := trustProxies(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotAddr, gotProto = r.RemoteAddr, r.Header.Get("X-Forwarded-Proto")
			}), proxies)
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = test.peer
			if test.forwardedFor != "" {
				r.Header.Set("X-Forwarded-For", test.forwardedFor)
			}
			if test.proto != "" {
				r.Header.Set("X-Forwarded-Proto", test.proto)
			}
			handler.ServeHTTP(httptest.NewRecorder(), r)
			if gotAddr != test.wantAddr || gotProto != test.wantProto {
				t.Errorf("RemoteAddr %q, proto %q; want %q, %q", gotAddr, gotProto, test.wantAddr, test.wantProto)
			}
		})
	}
	if _, err := ParseTrustedProxies("10.0.0.0/8, proxy.example.com"); err == nil {
		t.Error("a host name was taken as a proxy")
	}
}
