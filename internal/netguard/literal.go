package netguard

import (
	"net/netip"
	"strconv"
	"strings"
)

// HostAddress reads the host part of a URL (url.URL.Hostname: brackets
// already removed) as an IP address when it is one in any form a resolver
// takes for one, so that a check made when the URL is saved sees what the
// dial would reach. Besides the usual forms that means the ones of
// inet_aton(3), which the C library's resolver accepts and a careless
// check would take for a host name: "2130706433" (one number), "0177.0.0.1"
// (octal), "0x7f.1" (hex, fewer parts: 127.0.0.1), and a trailing dot. It
// reports false for a name.
func HostAddress(host string) (netip.Addr, bool) {
	host = strings.TrimSuffix(host, ".")
	if host == "" {
		return netip.Addr{}, false
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		return addr.WithZone(""), true
	}
	return inetAton(host)
}

// inetAton reads an IPv4 address the way inet_aton(3) does: one to four
// parts separated by dots, each decimal, octal (a leading 0) or hex (0x);
// the last part fills the bytes the others left.
func inetAton(text string) (netip.Addr, bool) {
	parts := strings.Split(text, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	values := make([]uint64, len(parts))
	for i, part := range parts {
		base, digits := 10, part
		switch {
		case len(part) > 2 && (part[:2] == "0x" || part[:2] == "0X"):
			base, digits = 16, part[2:]
		case len(part) > 1 && part[0] == '0':
			base, digits = 8, part[1:]
		}
		if digits == "" || strings.ContainsAny(digits, "+-_") {
			return netip.Addr{}, false
		}
		value, err := strconv.ParseUint(digits, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		values[i] = value
	}
	var number uint64
	for i, value := range values[:len(values)-1] {
		if value > 0xff {
			return netip.Addr{}, false
		}
		number |= value << (8 * (3 - i))
	}
	last := values[len(values)-1]
	if last >= 1<<(8*(5-len(values))) {
		return netip.Addr{}, false
	}
	number |= last
	return netip.AddrFrom4([4]byte{byte(number >> 24), byte(number >> 16), byte(number >> 8), byte(number)}), true
}
