package netguard

import "testing"

// Every spelling of an address that a resolver reads as one is read so;
// names stay names.
func TestHostAddress(t *testing.T) {
	for host, want := range map[string]string{
		"127.0.0.1": "127.0.0.1", "127.0.0.1.": "127.0.0.1", "::1": "::1", "::ffff:127.0.0.1": "::ffff:127.0.0.1",
		"fe80::1%eth0": "fe80::1", "0.0.0.0": "0.0.0.0", "10.1.2.3": "10.1.2.3", "169.254.169.254": "169.254.169.254",
		"2130706433": "127.0.0.1", "0177.0.0.1": "127.0.0.1", "0x7f.0.0.1": "127.0.0.1", "0X7F000001": "127.0.0.1",
		"127.1": "127.0.0.1", "10.258": "10.0.1.2", "169.254.43518": "169.254.169.254", "017700000001": "127.0.0.1",
		"0": "0.0.0.0", "3232235777": "192.168.1.1", "8.8.8.8": "8.8.8.8",
	} {
		got, ok := HostAddress(host)
		if !ok || got.String() != want {
			t.Errorf("HostAddress(%q) = %v, %v; want %s", host, got, ok, want)
		}
	}
	for _, host := range []string{"", "example.com", "localhost", "127.0.0.1.example.com", "4294967296", "256.0.0.1", "1.2.3.4.5",
		"0x", "08.0.0.1", "1.2.65536", "-1", "+1.2.3.4", "1..2", "hooks.example.com."} {
		if got, ok := HostAddress(host); ok {
			t.Errorf("HostAddress(%q) = %v, want a name", host, got)
		}
	}
}
