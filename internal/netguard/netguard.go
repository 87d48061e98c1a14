// Package netguard keeps outbound connections made on someone else's behalf
// away from the machine's own networks.
//
// When Pochta connects somewhere because a user said where (a mailbox's
// server, an OAuth token URL, a webhook), a careless check would let that
// user reach services that only trust the local network: a database on
// loopback, an internal admin page, a cloud's metadata endpoint. A [Policy]
// refuses loopback, private, link-local, unique-local, shared (carrier-grade
// NAT), multicast, unspecified and reserved addresses, except inside the
// networks an administrator allows. [Classify] names the kind of an address.
//
// The check is made on the address actually dialled, after the name was
// resolved: a [Dialer] checks each address in the socket's Control hook just
// before connect, so a name that resolves to a public address when it is
// typed and to 127.0.0.1 when it is used (DNS rebinding) gains nothing.
// [Dialer.HTTPTransport] and [Dialer.HTTPClient] give HTTP clients whose every
// connection, redirects included, goes through the same check.
//
// A refused address is a [*BlockedError], which matches [ErrBlocked] with
// errors.Is.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
	"unicode"
)

// ErrBlocked is matched (errors.Is) by every [*BlockedError].
var ErrBlocked = errors.New("address not allowed")

// Class is the kind of an IP address, as far as the policy cares.
type Class int

// Address classes. Every class but Public is refused unless allowed.
const (
	Public      Class = iota // routable on the internet
	Loopback                 // 127.0.0.0/8, ::1: this machine
	Private                  // 10/8, 172.16/12, 192.168/16 (RFC 1918), fec0::/10 (site-local)
	LinkLocal                // 169.254/16 (cloud metadata lives here), fe80::/10
	UniqueLocal              // fc00::/7, the IPv6 private networks (RFC 4193)
	Shared                   // 100.64/10, carrier-grade NAT, often internal in clouds (RFC 6598)
	Multicast                // 224/4, ff00::/8
	Unspecified              // 0.0.0.0/8 ("this network": 0.0.0.0 reaches this machine), ::
	Reserved                 // other special-purpose ranges: 240/4 and broadcast, benchmarking, documentation, ...
)

var classNames = [...]string{
	Public:      "public",
	Loopback:    "loopback",
	Private:     "private network",
	LinkLocal:   "link-local",
	UniqueLocal: "unique local (IPv6 private network)",
	Shared:      "shared (carrier-grade NAT)",
	Multicast:   "multicast",
	Unspecified: "unspecified",
	Reserved:    "reserved",
}

// String names the class in words: "loopback", "private network", ...
func (c Class) String() string {
	if c >= 0 && int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("Class(%d)", int(c))
}

// specialRanges are the special-purpose ranges netip's predicates do not
// cover (RFC 6890 and its updates).
var specialRanges = []struct {
	prefix netip.Prefix
	class  Class
}{
	{netip.MustParsePrefix("0.0.0.0/8"), Unspecified},
	{netip.MustParsePrefix("100.64.0.0/10"), Shared},
	{netip.MustParsePrefix("192.0.0.0/24"), Reserved},
	{netip.MustParsePrefix("192.0.2.0/24"), Reserved},
	{netip.MustParsePrefix("198.18.0.0/15"), Reserved},
	{netip.MustParsePrefix("198.51.100.0/24"), Reserved},
	{netip.MustParsePrefix("203.0.113.0/24"), Reserved},
	{netip.MustParsePrefix("240.0.0.0/4"), Reserved}, // 255.255.255.255 too
	{netip.MustParsePrefix("::/96"), Reserved},       // IPv4-compatible, deprecated
	{netip.MustParsePrefix("100::/64"), Reserved},    // discard
	{netip.MustParsePrefix("2001:db8::/32"), Reserved},
	{netip.MustParsePrefix("fec0::/10"), Private}, // site-local, deprecated but still routed by some
}

// embeddingRanges are IPv6 ranges that carry an IPv4 address and can reach
// it: NAT64 (a local gateway translates 64:ff9b::10.0.0.1 to 10.0.0.1),
// with the IPv4 address in the last 32 bits, and 6to4 (2002:AABB:CCDD::/48),
// with it right after the 16-bit prefix.
var embeddingRanges = []struct {
	prefix netip.Prefix
	offset int // of the IPv4 address in the 16 bytes
}{
	{netip.MustParsePrefix("64:ff9b::/96"), 12},
	{netip.MustParsePrefix("64:ff9b:1::/48"), 12},
	{netip.MustParsePrefix("2002::/16"), 2},
}

// Classify gives the class of addr. IPv4-mapped IPv6 addresses
// (::ffff:127.0.0.1) are classified as the IPv4 address they carry, and so
// are NAT64 and 6to4 addresses whose IPv4 address is not public. An invalid
// addr is Reserved.
func Classify(addr netip.Addr) Class {
	addr = addr.Unmap().WithZone("")
	switch {
	case !addr.IsValid():
		return Reserved
	case addr.IsUnspecified():
		return Unspecified
	case addr.IsLoopback():
		return Loopback
	case addr.IsMulticast():
		return Multicast
	case addr.IsLinkLocalUnicast():
		return LinkLocal
	case addr.IsPrivate() && addr.Is4():
		return Private
	case addr.IsPrivate():
		return UniqueLocal
	}
	for _, special := range specialRanges {
		if special.prefix.Contains(addr) {
			return special.class
		}
	}
	if embedded, ok := embeddedIPv4(addr); ok {
		return Classify(embedded)
	}
	return Public
}

// embeddedIPv4 gives the IPv4 address a NAT64 or 6to4 address carries.
func embeddedIPv4(addr netip.Addr) (netip.Addr, bool) {
	for _, embedding := range embeddingRanges {
		if embedding.prefix.Contains(addr) {
			bytes := addr.As16()
			return netip.AddrFrom4([4]byte(bytes[embedding.offset : embedding.offset+4])), true
		}
	}
	return netip.Addr{}, false
}

// BlockedError reports a connection refused by a [Policy].
type BlockedError struct {
	// Address is the refused address, for the logs of whoever runs the
	// program. Error leaves it out: told to the person who typed a host
	// name, it would say what the name resolves to inside the network.
	Address netip.Addr
	Class   Class
}

func (e *BlockedError) Error() string {
	return ErrBlocked.Error() + ": " + e.Class.String()
}

// Is makes errors.Is(err, ErrBlocked) true.
func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

// Policy decides which addresses may be dialled. The zero Policy allows
// public addresses only.
type Policy struct {
	// Allowed are networks let through whatever their class: an
	// administrator's "these internal servers are fine".
	Allowed []netip.Prefix
}

// Check returns nil when addr may be dialled, else a [*BlockedError].
// IPv4-mapped addresses are checked as IPv4, and a zone is ignored.
func (p Policy) Check(addr netip.Addr) error {
	addr = addr.Unmap().WithZone("")
	class := Classify(addr)
	if class == Public {
		return nil
	}
	embedded, hasEmbedded := embeddedIPv4(addr)
	for _, prefix := range p.Allowed {
		if prefix.Contains(addr) || hasEmbedded && prefix.Contains(embedded) {
			return nil
		}
	}
	return &BlockedError{Address: addr, Class: class}
}

// Allows reports whether addr may be dialled ([Policy.Check] gives nil).
func (p Policy) Allows(addr netip.Addr) bool { return p.Check(addr) == nil }

// ParseNetworks reads a list of networks ("10.0.0.0/8") and single addresses
// ("192.168.1.5", taken as a /32 or /128) separated by white space or
// commas. A network is reduced to its base address (10.1.2.3/8 is
// 10.0.0.0/8) and an IPv4-mapped one to IPv4. The first entry that is
// neither is reported in a [*NetworkError].
func ParseNetworks(text string) ([]netip.Prefix, error) {
	var prefixes []netip.Prefix
	for _, entry := range SplitNetworks(text) {
		prefix, err := ParseNetwork(entry)
		if err != nil {
			return nil, err
		}
		prefixes = append(prefixes, prefix)
	}
	return prefixes, nil
}

// SplitNetworks splits a list of networks on white space and commas.
func SplitNetworks(text string) []string {
	return strings.FieldsFunc(text, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}

// NetworkError reports an entry of a list of networks that is neither an
// address nor a network.
type NetworkError struct {
	Entry string
}

func (e *NetworkError) Error() string {
	return fmt.Sprintf("%q is not an IP address or network", e.Entry)
}

// ParseNetwork reads one network or single address, as [ParseNetworks].
func ParseNetwork(entry string) (netip.Prefix, error) {
	entry = strings.TrimSpace(entry)
	if strings.Contains(entry, "/") {
		prefix, err := netip.ParsePrefix(entry)
		if err != nil {
			return netip.Prefix{}, &NetworkError{Entry: entry}
		}
		if addr := prefix.Addr(); addr.Is4In6() && prefix.Bits() >= 96 {
			prefix = netip.PrefixFrom(addr.Unmap(), prefix.Bits()-96)
		}
		return prefix.Masked(), nil
	}
	addr, err := netip.ParseAddr(entry)
	if err != nil || addr.Zone() != "" {
		return netip.Prefix{}, &NetworkError{Entry: entry}
	}
	addr = addr.Unmap()
	return netip.PrefixFrom(addr, addr.BitLen()), nil
}

// ContextDialer opens connections; *net.Dialer is one.
type ContextDialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Dialer opens TCP connections that its Policy allows. The zero Dialer
// dials public addresses only.
type Dialer struct {
	Policy Policy

	// Dialer, when set, opens the connections (a test's dialer that reaches
	// loopback only, say). The guard then resolves a host name itself,
	// checks every address and hands Dialer an IP address, never a name,
	// so that what Dialer connects to is what was checked; Dialer must
	// connect to the address it is given. Nil means a net.Dialer whose
	// Control hook checks each socket's address just before connect, which
	// covers every address the resolver returns and every retry.
	Dialer ContextDialer

	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver *net.Resolver

	// Timeout and KeepAlive are those of the net.Dialer used when Dialer
	// is nil (see net.Dialer).
	Timeout   time.Duration
	KeepAlive time.Duration
}

// DialContext connects to address (host:port) on network "tcp", "tcp4" or
// "tcp6" if the policy allows the address dialled. A refused address gives
// a [*BlockedError] (when a name has several addresses, the allowed ones
// are tried, and the error is that of the first refused when none is).
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("netguard: network %q is not allowed (tcp only)", network)
	}
	if d.Dialer == nil {
		return d.dialChecked(ctx, network, address)
	}
	return d.dialResolved(ctx, network, address)
}

// dialChecked dials with a net.Dialer that checks in its Control hook.
func (d *Dialer) dialChecked(ctx context.Context, network, address string) (net.Conn, error) {
	dialer := net.Dialer{
		Timeout:   d.Timeout,
		KeepAlive: d.KeepAlive,
		Resolver:  d.Resolver,
		Control: func(_, socketAddress string, _ syscall.RawConn) error {
			addrPort, err := netip.ParseAddrPort(socketAddress)
			if err != nil {
				return fmt.Errorf("netguard: unreadable socket address %q: %w", socketAddress, err)
			}
			return d.Policy.Check(addrPort.Addr())
		},
	}
	conn, err := dialer.DialContext(ctx, network, address)
	var blocked *BlockedError
	if errors.As(err, &blocked) {
		// The *net.OpError around it names the resolved address; see
		// BlockedError.Address.
		return nil, blocked
	}
	return conn, err
}

// dialResolved resolves the host, checks each address and dials the allowed
// ones through d.Dialer by their IP address.
func (d *Dialer) dialResolved(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	var addresses []netip.Addr
	if addr, err := netip.ParseAddr(host); err == nil {
		addresses = []netip.Addr{addr}
	} else {
		resolver := d.Resolver
		if resolver == nil {
			resolver = net.DefaultResolver
		}
		ipNetwork := map[string]string{"tcp": "ip", "tcp4": "ip4", "tcp6": "ip6"}[network]
		addresses, err = resolver.LookupNetIP(ctx, ipNetwork, host)
		if err != nil {
			return nil, err
		}
	}
	var firstBlocked, lastErr error
	for _, addr := range addresses {
		if err := d.Policy.Check(addr); err != nil {
			if firstBlocked == nil {
				firstBlocked = err
			}
			continue
		}
		conn, err := d.Dialer.DialContext(ctx, network, net.JoinHostPort(addr.String(), port))
		if err == nil {
			return conn, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	if lastErr != nil {
		return nil, lastErr
	}
	if firstBlocked != nil {
		return nil, firstBlocked
	}
	return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
}

// HTTPTransport gives a transport like http.DefaultTransport's whose every
// connection is dialled through d. Proxies from the environment are not
// used: the check would then see the proxy's address, not the server's.
func (d *Dialer) HTTPTransport() *http.Transport {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Proxy = nil
	transport.DialContext = d.DialContext
	transport.DialTLSContext = nil
	return transport
}

// HTTPClient gives a client over [Dialer.HTTPTransport] with the given
// overall timeout (zero: none). Redirects are followed up to 10 times, as
// by http.Client; each new connection they need is checked like the first.
func (d *Dialer) HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Transport: d.HTTPTransport(), Timeout: timeout}
}
