package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Behind a reverse proxy every request comes from the proxy's address, so
// the per-IP limit would count the whole audience as one client. With
// -trusted-proxy, requests whose peer is a trusted proxy are attributed to
// the client the proxy names in X-Forwarded-For or Forwarded (RFC 7239):
// the rightmost address in the chain that is not itself a trusted proxy.
// Addresses further left were written by the client, or by proxies we do
// not know, and are never believed. From any other peer both headers are
// ignored.
//
// resolveClient does this in a middleware, before everything else: it sets
// the request's RemoteAddr to the client's address, so the broker's per-IP
// limit, the access log and every other handler see the real client with
// no knowledge of proxies. The proxy's own address stays available to the
// access log through peerAddr.

// trustedProxies are the networks whose forwarding headers are believed.
type trustedProxies []netip.Prefix

// parseTrustedProxy reads a -trusted-proxy value: a CIDR such as
// 10.0.0.0/8 or fd00::/8, or a bare IP meaning that address alone.
func parseTrustedProxy(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		if p.Addr().Is4In6() {
			return netip.Prefix{}, fmt.Errorf("%q: write an IPv4 network in IPv4 form, such as 10.0.0.0/8", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither a CIDR (10.0.0.0/8, fd00::/8) nor an IP address (127.0.0.1)", s)
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// trusts reports whether a is in one of the trusted networks.
func (tp trustedProxies) trusts(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, p := range tp {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// errNoForwarding: the request carries no forwarding header at all (a
// proxy's own health check, say).
var errNoForwarding = errors.New("no X-Forwarded-For or Forwarded header")

// clientAddr returns the address of the client of a request that peer
// sent with header h. From an untrusted peer it is peer itself. From a
// trusted one it is the rightmost untrusted address of the forwarding
// chain, X-Forwarded-For if the request has one, else Forwarded (the
// proxies documented in docs/scale-out.md append to X-Forwarded-For; a
// proxy that writes Forwarded instead must drop a client's
// X-Forwarded-For). When every hop is trusted, it is the leftmost. An
// error (the header is malformed, or a hop that matters is not an IP)
// comes with peer: count the request against the proxy rather than
// believe a header we cannot read.
func (tp trustedProxies) clientAddr(peer netip.Addr, h http.Header) (netip.Addr, error) {
	peer = peer.Unmap().WithZone("")
	if !tp.trusts(peer) {
		return peer, nil
	}
	var hops func(yield func(netip.Addr, error) bool)
	switch {
	case len(h.Values("X-Forwarded-For")) > 0:
		hops = xffHops(h.Values("X-Forwarded-For"))
	case len(h.Values("Forwarded")) > 0:
		hops = forwardedHops(h.Values("Forwarded"))
	default:
		return peer, errNoForwarding
	}
	client := peer
	for a, err := range hops {
		if err != nil {
			return peer, err
		}
		client = a
		if !tp.trusts(a) {
			break
		}
	}
	return client, nil
}

// xffHops yields the addresses of X-Forwarded-For lines, rightmost
// (nearest) first. An entry may carry a port ("192.0.2.1:80",
// "[2001:db8::1]:80"), which is dropped.
func xffHops(lines []string) func(yield func(netip.Addr, error) bool) {
	return func(yield func(netip.Addr, error) bool) {
		for i := len(lines) - 1; i >= 0; i-- {
			entries := strings.Split(lines[i], ",")
			for j := len(entries) - 1; j >= 0; j-- {
				e := strings.TrimSpace(entries[j])
				a, err := parseHop(e)
				if err != nil {
					yield(netip.Addr{}, fmt.Errorf("X-Forwarded-For entry %q: %w", clipHeader(e), err))
					return
				}
				if !yield(a, nil) {
					return
				}
			}
		}
	}
}

// forwardedHops yields the for= addresses of Forwarded lines (RFC 7239),
// rightmost first. An element without for=, or with an obfuscated or
// "unknown" identifier, is an error: it names no address to count.
func forwardedHops(lines []string) func(yield func(netip.Addr, error) bool) {
	return func(yield func(netip.Addr, error) bool) {
		for i := len(lines) - 1; i >= 0; i-- {
			elems, err := parseForwarded(lines[i])
			if err != nil {
				yield(netip.Addr{}, err)
				return
			}
			for j := len(elems) - 1; j >= 0; j-- {
				v, ok := elems[j]["for"]
				if !ok {
					yield(netip.Addr{}, fmt.Errorf("Forwarded element %d has no for= parameter", j+1))
					return
				}
				a, err := parseHop(v)
				if err != nil {
					yield(netip.Addr{}, fmt.Errorf("Forwarded for=%q: %w", clipHeader(v), err))
					return
				}
				if !yield(a, nil) {
					return
				}
			}
		}
	}
}

// parseHop reads one node address: an IP, optionally with a port, IPv6
// optionally in brackets ("[2001:db8::1]", "[2001:db8::1]:4711").
func parseHop(s string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), nil
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Is6() && a.Zone() == "" {
			return a.Unmap(), nil
		}
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), nil
	}
	return netip.Addr{}, errors.New("not an IP address")
}

// parseForwarded splits one Forwarded line into its elements, each a map
// of lower-cased parameter names to values, unquoted:
//
//	Forwarded: for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8::1]:4711"
func parseForwarded(line string) ([]map[string]string, error) {
	var elems []map[string]string
	elem := map[string]string{}
	s := line
	for {
		s = strings.TrimLeft(s, " \t")
		// A parameter: token "=" (token / quoted-string).
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || !isToken(s[:eq]) {
			return nil, fmt.Errorf("Forwarded %q: want name=value pairs separated by ; and ,", clipHeader(line))
		}
		name := strings.ToLower(s[:eq])
		s = s[eq+1:]
		var value string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
			}
			if i == len(s) {
				return nil, fmt.Errorf("Forwarded %q: unterminated quoted value", clipHeader(line))
			}
			value, s = b.String(), s[i+1:]
		} else {
			end := strings.IndexAny(s, ";, \t")
			if end < 0 {
				end = len(s)
			}
			value, s = s[:end], s[end:]
			if !isToken(value) {
				return nil, fmt.Errorf("Forwarded %q: parameter %s has no valid value", clipHeader(line), name)
			}
		}
		if _, dup := elem[name]; dup {
			return nil, fmt.Errorf("Forwarded %q: parameter %s given twice in one element", clipHeader(line), name)
		}
		elem[name] = value
		s = strings.TrimLeft(s, " \t")
		switch {
		case s == "":
			return append(elems, elem), nil
		case s[0] == ';':
			s = s[1:]
		case s[0] == ',':
			elems, elem = append(elems, elem), map[string]string{}
			s = s[1:]
		default:
			return nil, fmt.Errorf("Forwarded %q: unexpected %q after parameter %s", clipHeader(line), s[0], name)
		}
	}
}

// isToken reports whether s is a non-empty RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			// RFC 7239: an address with a port, or IPv6, must be quoted.
			return false
		}
	}
	return true
}

// clipHeader shortens a header value for an error message.
func clipHeader(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// peerKey keys the proxy's address in a request's context.
type peerKey struct{}

// peerAddr returns the address of the proxy that forwarded r, or "" if
// r came straight from the client.
func peerAddr(r *http.Request) string {
	p, _ := r.Context().Value(peerKey{}).(string)
	return p
}

// resolveClient sets each request's RemoteAddr to its client's address
// (see trustedProxies.clientAddr), keeping the proxy's for peerAddr. With
// no trusted proxy it returns next unchanged.
func resolveClient(next http.Handler, tp trustedProxies, log *slog.Logger) http.Handler {
	if len(tp) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !tp.trusts(peer.Addr()) {
			next.ServeHTTP(w, r)
			return
		}
		client, err := tp.clientAddr(peer.Addr(), r.Header)
		if err != nil && err != errNoForwarding { // no header (a health check, say): nothing to report
			log.Debug("forwarding header from a trusted proxy unusable; counting the request against the proxy's address",
				"peer", r.RemoteAddr, "err", err)
		}
		r = r.WithContext(context.WithValue(r.Context(), peerKey{}, r.RemoteAddr)) // a shallow copy: ours to change
		r.RemoteAddr = net.JoinHostPort(client.String(), "0")
		next.ServeHTTP(w, r)
	})
}
