package app

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// ParseTrustedProxies reads a comma-separated list of addresses and CIDR
// prefixes ("10.0.0.0/8, 127.0.0.1") of reverse proxies whose
// X-Forwarded-For and X-Forwarded-Proto headers are believed.
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	var prefixes []netip.Prefix
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if prefix, err := netip.ParsePrefix(item); err == nil {
			prefixes = append(prefixes, prefix.Masked())
			continue
		}
		addr, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: not an address or a prefix like 10.0.0.0/8", item)
		}
		prefixes = append(prefixes, netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen()))
	}
	return prefixes, nil
}

// trustProxies makes r.RemoteAddr the client's address when the request
// came through a trusted reverse proxy: the right-most X-Forwarded-For
// entry that is not itself a trusted proxy (entries further left could be
// made up by the client). From anyone else the forwarding headers are
// dropped, so that nothing downstream (sign-in throttling, secure cookies)
// believes a client about its own address or scheme.
func trustProxies(next http.Handler, proxies []netip.Prefix) http.Handler {
	trusted := func(addr netip.Addr) bool {
		addr = addr.Unmap()
		for _, prefix := range proxies {
			if prefix.Contains(addr) {
				return true
			}
		}
		return false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !trusted(peer.Addr()) {
			r.Header.Del("X-Forwarded-For")
			r.Header.Del("X-Forwarded-Proto")
			next.ServeHTTP(w, r)
			return
		}
		forwarded := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(forwarded) - 1; i >= 0; i-- {
			addr, err := netip.ParseAddr(strings.TrimSpace(forwarded[i]))
			if err != nil {
				break // a garbled entry: the proxy's own address stands
			}
			if !trusted(addr) {
				r = r.Clone(r.Context())
				r.RemoteAddr = netip.AddrPortFrom(addr.Unmap(), 0).String()
				break
			}
		}
		next.ServeHTTP(w, r)
	})
}
