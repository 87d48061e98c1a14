package netguard_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"pochta.dev/pochta/internal/netguard"
)

// Addresses here are only classified and checked: the tests dial nothing
// but loopback.
func TestClassify(t *testing.T) {
	tests := []struct {
		address string
		want    netguard.Class
	}{
		{"127.0.0.1", netguard.Loopback},
		{"127.255.255.254", netguard.Loopback},
		{"::1", netguard.Loopback},
		{"::ffff:127.0.0.1", netguard.Loopback},
		{"10.1.2.3", netguard.Private},
		{"172.16.0.1", netguard.Private},
		{"172.31.255.255", netguard.Private},
		{"192.168.1.1", netguard.Private},
		{"::ffff:10.0.0.1", netguard.Private},
		{"::ffff:192.168.0.1", netguard.Private},
		{"fec0::1", netguard.Private},
		{"169.254.169.254", netguard.LinkLocal},
		{"::ffff:169.254.169.254", netguard.LinkLocal},
		{"fe80::1", netguard.LinkLocal},
		{"fe80::1%eth0", netguard.LinkLocal},
		{"fc00::1", netguard.UniqueLocal},
		{"fd12:3456:789a::1", netguard.UniqueLocal},
		{"100.64.0.1", netguard.Shared},
		{"224.0.0.1", netguard.Multicast},
		{"239.255.255.250", netguard.Multicast},
		{"ff02::1", netguard.Multicast},
		{"0.0.0.0", netguard.Unspecified},
		{"0.1.2.3", netguard.Unspecified},
		{"::", netguard.Unspecified},
		{"::ffff:0.0.0.0", netguard.Unspecified},
		{"255.255.255.255", netguard.Reserved},
		{"240.0.0.1", netguard.Reserved},
		{"198.18.0.1", netguard.Reserved},
		{"::7f00:1", netguard.Reserved},               // IPv4-compatible 127.0.0.1
		{"64:ff9b::7f00:1", netguard.Loopback},        // NAT64 of 127.0.0.1
		{"64:ff9b::a00:1", netguard.Private},          // NAT64 of 10.0.0.1
		{"2002:a9fe:a9fe::1", netguard.LinkLocal},     // 6to4 of 169.254.169.254
		{"8.8.8.8", netguard.Public},                  // never dialled
		{"1.1.1.1", netguard.Public},                  // never dialled
		{"172.32.0.1", netguard.Public},               // just past 172.16/12
		{"100.128.0.1", netguard.Public},              // just past 100.64/10
		{"2001:4860:4860::8888", netguard.Public},     // never dialled
		{"64:ff9b::808:808", netguard.Public},         // NAT64 of 8.8.8.8
		{"::ffff:93.184.215.14", netguard.Public},     // mapped public
		{"2a00:1450:4001:80b::200e", netguard.Public}, // never dialled
	}
	for _, test := range tests {
		t.Run(test.address, func(t *testing.T) {
			addr := netip.MustParseAddr(test.address)
			if got := netguard.Classify(addr); got != test.want {
				t.Errorf("Classify(%s) = %v, want %v", test.address, got, test.want)
			}
			err := netguard.Policy{}.Check(addr)
			if test.want == netguard.Public {
				if err != nil {
					t.Errorf("Check(%s) = %v, want allowed", test.address, err)
				}
				return
			}
			var blocked *netguard.BlockedError
			if !errors.As(err, &blocked) || !errors.Is(err, netguard.ErrBlocked) || blocked.Class != test.want {
				t.Fatalf("Check(%s) = %v, want a BlockedError of class %v", test.address, err, test.want)
			}
			if !strings.Contains(err.Error(), test.want.String()) {
				t.Errorf("error %q does not name the class %q", err, test.want)
			}
			if unmapped := addr.Unmap().WithZone("").String(); strings.Contains(err.Error(), unmapped) {
				t.Errorf("error %q tells the address %s", err, unmapped)
			}
		})
	}
}

func TestPolicyAllowedNetworks(t *testing.T) {
	allowed, err := netguard.ParseNetworks("127.0.0.0/8, fd00::/8\n192.168.1.5")
	if err != nil {
		t.Fatal(err)
	}
	policy := netguard.Policy{Allowed: allowed}
	tests := []struct {
		address string
		allowed bool
	}{
		{"127.0.0.1", true},
		{"127.1.2.3", true},
		{"::ffff:127.0.0.1", true}, // mapped, checked as IPv4
		{"64:ff9b::7f00:1", true},  // NAT64 of an allowed address
		{"fd00::1", true},
		{"192.168.1.5", true},
		{"::ffff:192.168.1.5", true},
		{"192.168.1.6", false},
		{"::1", false},
		{"10.0.0.1", false},
		{"fc00::1", false},
		{"169.254.169.254", false},
		{"8.8.8.8", true}, // public: allowed without a list
	}
	for _, test := range tests {
		err := policy.Check(netip.MustParseAddr(test.address))
		if (err == nil) != test.allowed {
			t.Errorf("Check(%s) = %v, want allowed %v", test.address, err, test.allowed)
		}
	}
}

func TestParseNetworks(t *testing.T) {
	tests := []struct {
		text string
		want string // the prefixes, space-separated
		bad  string // the entry reported, when the text is refused
	}{
		{text: "", want: ""},
		{text: " 10.0.0.0/8,192.168.1.5\n\tfd00::/8 ", want: "10.0.0.0/8 192.168.1.5/32 fd00::/8"},
		{text: "10.1.2.3/8", want: "10.0.0.0/8"},
		{text: "::ffff:10.0.0.0/104", want: "10.0.0.0/8"},
		{text: "::ffff:127.0.0.1", want: "127.0.0.1/32"},
		{text: "::1", want: "::1/128"},
		{text: "10.0.0.0/8 intranet", bad: "intranet"},
		{text: "10.0.0.0/33", bad: "10.0.0.0/33"},
		{text: "10.0.0", bad: "10.0.0"},
		{text: "fe80::1%eth0", bad: "fe80::1%eth0"},
	}
	for _, test := range tests {
		prefixes, err := netguard.ParseNetworks(test.text)
		if test.bad != "" {
			var invalid *netguard.NetworkError
			if !errors.As(err, &invalid) || invalid.Entry != test.bad {
				t.Errorf("ParseNetworks(%q) = %v, %v; want an error about %q", test.text, prefixes, err, test.bad)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseNetworks(%q): %v", test.text, err)
			continue
		}
		var got []string
		for _, prefix := range prefixes {
			got = append(got, prefix.String())
		}
		if strings.Join(got, " ") != test.want {
			t.Errorf("ParseNetworks(%q) = %v, want %s", test.text, got, test.want)
		}
	}
}

// listen starts a loopback listener. connected gives the first line the
// next connection sends, so that a test can tell that no earlier
// connection reached it: a refused dial must not even open one.
func listen(t *testing.T) (address string, firstLine func() string) {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listener.Close() })
	return listener.Addr().String(), func() string {
		t.Helper()
		conn, err := listener.Accept()
		if err != nil {
			t.Fatalf("accept: %v", err)
		}
		defer conn.Close()
		line := make([]byte, 64)
		n, _ := io.ReadAtLeast(conn, line, 1)
		return string(line[:n])
	}
}

// sayHello dials through dialer and sends "hello".
func sayHello(t *testing.T, dialer *netguard.Dialer, address string) {
	t.Helper()
	conn, err := dialer.DialContext(context.Background(), "tcp", address)
	if err != nil {
		t.Fatalf("dial %s: %v", address, err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "hello"); err != nil {
		t.Fatal(err)
	}
}

// recordingDialer is an inner dialer that records the addresses it is given.
type recordingDialer struct {
	mu        sync.Mutex
	addresses []string
}

func (d *recordingDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	d.mu.Lock()
	d.addresses = append(d.addresses, address)
	d.mu.Unlock()
	var dialer net.Dialer
	return dialer.DialContext(ctx, network, address)
}

func TestDialerChecksTheResolvedAddress(t *testing.T) {
	address, firstLine := listen(t)
	_, port, _ := net.SplitHostPort(address)
	byName := net.JoinHostPort("localhost", port)
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	inner := &recordingDialer{}
	dialers := []struct {
		name    string
		refused *netguard.Dialer
		allowed *netguard.Dialer
	}{
		{"control hook", &netguard.Dialer{}, &netguard.Dialer{Policy: netguard.Policy{Allowed: loopback}}},
		{"inner dialer", &netguard.Dialer{Dialer: inner}, &netguard.Dialer{Dialer: inner, Policy: netguard.Policy{Allowed: loopback}}},
	}
	for _, dialers := range dialers {
		t.Run(dialers.name, func(t *testing.T) {
			// A literal address and a name that resolves to loopback are
			// refused alike, before any connection is opened.
			for _, target := range []string{address, byName, net.JoinHostPort("::ffff:127.0.0.1", port)} {
				conn, err := dialers.refused.DialContext(context.Background(), "tcp", target)
				if err == nil {
					conn.Close()
					t.Fatalf("dial %s: connected, want refused", target)
				}
				var blocked *netguard.BlockedError
				if !errors.As(err, &blocked) || blocked.Class != netguard.Loopback {
					t.Fatalf("dial %s: %v, want a loopback BlockedError", target, err)
				}
				if strings.Contains(err.Error(), "127.0.0.1") {
					t.Errorf("dial %s: %q tells the resolved address", target, err)
				}
			}
			for _, target := range []string{address, byName} {
				sayHello(t, dialers.allowed, target)
				if line := firstLine(); line != "hello" {
					t.Fatalf("the listener's next connection said %q, want hello: a refused dial connected", line)
				}
			}
		})
	}
	inner.mu.Lock()
	defer inner.mu.Unlock()
	for _, given := range inner.addresses {
		host, _, _ := net.SplitHostPort(given)
		if _, err := netip.ParseAddr(host); err != nil {
			t.Errorf("the inner dialer was given %q, not an IP address: it could resolve the name again", given)
		}
	}
	if len(inner.addresses) == 0 {
		t.Error("the inner dialer was never used")
	}
}

func TestDialerRefusesOtherNetworks(t *testing.T) {
	for _, network := range []string{"udp", "unix", "ip:icmp"} {
		if _, err := (&netguard.Dialer{}).DialContext(context.Background(), network, "127.0.0.1:53"); err == nil {
			t.Errorf("network %s: dialled", network)
		}
	}
}

func TestHTTPClientChecksEveryHop(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			// Another loopback address: not allowed below, so never dialled.
			_, port, _ := net.SplitHostPort(r.Host)
			http.Redirect(w, r, fmt.Sprintf("http://127.0.0.2:%s/", port), http.StatusFound)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(server.Close)
	host, _, _ := net.SplitHostPort(server.Listener.Addr().String())

	get := func(client *http.Client, path string) (string, error) {
		t.Helper()
		response, err := client.Get(server.URL + path)
		if err != nil {
			return "", err
		}
		defer response.Body.Close()
		body, err := io.ReadAll(response.Body)
		return string(body), err
	}
	if _, err := get((&netguard.Dialer{}).HTTPClient(0), "/"); !errors.Is(err, netguard.ErrBlocked) {
		t.Fatalf("GET without allowed networks: %v, want ErrBlocked", err)
	}
	allowed := &netguard.Dialer{Policy: netguard.Policy{Allowed: []netip.Prefix{netip.PrefixFrom(netip.MustParseAddr(host), 32)}}}
	client := allowed.HTTPClient(0)
	if body, err := get(client, "/"); err != nil || body != "ok" {
		t.Fatalf("GET with %s allowed: %q, %v", host, body, err)
	}
	if _, err := get(client, "/elsewhere"); !errors.Is(err, netguard.ErrBlocked) {
		t.Fatalf("GET redirected to 127.0.0.2: %v, want ErrBlocked", err)
	}
}
