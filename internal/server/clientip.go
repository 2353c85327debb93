package server

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientIPs finds the address of the client behind a request. X-Forwarded-For is believed
// only when the peer is a trusted proxy; then the right-most hop that is not itself a
// trusted proxy is the client. Anything a client writes in the header left of that is
// ignored, so spoofing it changes nothing.
type clientIPs struct {
	trusted []netip.Prefix
}

// newClientIPs parses CIDRs (or single addresses) of trusted proxies.
// It returns an error for anything else.
func newClientIPs(cidrs []string) (clientIPs, error) {
	var c clientIPs
	for _, s := range cidrs {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return c, fmt.Errorf("PANGUARD_TRUSTED_PROXIES: %q is not an address or CIDR", s)
			}
			s = netip.PrefixFrom(a, a.BitLen()).String()
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return c, fmt.Errorf("PANGUARD_TRUSTED_PROXIES: %q is not an address or CIDR", s)
		}
		c.trusted = append(c.trusted, p.Masked())
	}
	return c, nil
}

func (c clientIPs) isTrusted(a netip.Addr) bool {
	for _, p := range c.trusted {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// of returns the client IP for a peer address ("host:port") and request headers.
func (c clientIPs) of(remoteAddr string, h http.Header) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if !c.isTrusted(peer) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(h.Values("X-Forwarded-For"), ","), ",")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			// A malformed hop cannot be attributed; stop at the last address we trust.
			break
		}
		client = a.Unmap()
		if !c.isTrusted(client) {
			break
		}
	}
	return client.String()
}
