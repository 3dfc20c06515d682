// Package clientip finds the address of the client that sent an HTTP
// request, also behind reverse proxies.
//
// Behind a reverse proxy every request comes from the proxy's address,
// so a limit per address would count the whole audience as one client.
// Requests whose peer is one of the [Proxies] you trust are attributed
// to the client the proxy names in X-Forwarded-For or Forwarded (RFC
// 7239): the rightmost address in the chain that is not itself a
// trusted proxy. Addresses further left were written by the client, or
// by proxies you do not know, and are never believed. From any other
// peer both headers are ignored.
//
// [Proxies.Handler] reads the headers once per request, before your
// handlers run, and keeps the answer in the request's context; [Of]
// returns it to every handler that asks, and [IP] has the shape of the
// sse package's Options.ClientIP hook:
//
//	proxies := clientip.Proxies{netip.MustParsePrefix("10.0.0.0/8")}
//	broker, err := sse.New(sse.Options{ClientIP: clientip.IP}) // its per-IP limit
//	...
//	mux.Handle("GET /events", broker)
//	mux.HandleFunc("POST /publish", func(w http.ResponseWriter, r *http.Request) {
//		c := clientip.Of(r) // c.Addr: the client; c.Proxy: the proxy that forwarded it, if any
//		...
//	})
//	http.ListenAndServe(":8080", proxies.Handler(mux, logger))
//
// The request itself is left as it came: RemoteAddr stays the peer's.
package clientip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the networks of the reverse proxies whose forwarding
// headers are believed.
type Proxies []netip.Prefix

// ParseProxy reads a proxy's network: a CIDR such as 10.0.0.0/8 or
// fd00::/8, or a bare IP meaning that address alone.
func ParseProxy(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		if p.Addr().Is4In6() {
			return netip.Prefix{}, fmt.Errorf("clientip: %q: write an IPv4 network in IPv4 form, such as 10.0.0.0/8", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("clientip: %q is neither a CIDR (10.0.0.0/8, fd00::/8) nor an IP address (127.0.0.1)", s)
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Trusts reports whether a is in one of the networks.
func (p Proxies) Trusts(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, n := range p {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// ErrNoForwarding is the error of a request from a trusted proxy that
// carries no forwarding header at all (the proxy's own health check,
// say).
var ErrNoForwarding = errors.New("clientip: no X-Forwarded-For or Forwarded header")

// Resolve returns the address of the client of a request that peer sent
// with header h. From an untrusted peer it is peer itself. From a
// trusted one it is the rightmost untrusted address of the forwarding
// chain, X-Forwarded-For if the request has one, else Forwarded (a
// proxy that writes Forwarded instead must drop a client's
// X-Forwarded-For). When every hop is trusted, it is the leftmost. An
// error (no header, a malformed one, or a hop that matters that is not
// an IP) comes with peer: count the request against the proxy rather
// than believe a header that cannot be read. IPv4 addresses come
// unmapped, and no address has a zone.
func (p Proxies) Resolve(peer netip.Addr, h http.Header) (netip.Addr, error) {
	peer = peer.Unmap().WithZone("")
	if !p.Trusts(peer) {
		return peer, nil
	}
	var hops func(yield func(netip.Addr, error) bool)
	switch {
	case len(h.Values("X-Forwarded-For")) > 0:
		hops = xffHops(h.Values("X-Forwarded-For"))
	case len(h.Values("Forwarded")) > 0:
		hops = forwardedHops(h.Values("Forwarded"))
	default:
		return peer, ErrNoForwarding
	}
	client := peer
	for a, err := range hops {
		if err != nil {
			return peer, fmt.Errorf("clientip: %w", err)
		}
		client = a
		if !p.Trusts(a) {
			break
		}
	}
	return client, nil
}

// Client is where a request came from.
type Client struct {
	// Addr is the client's address: the peer's, or the client a trusted
	// proxy named. It is invalid (the zero Addr) when the request's
	// RemoteAddr is not an IP address with a port (a test double).
	Addr netip.Addr
	// Proxy is the RemoteAddr of the trusted proxy that forwarded the
	// request; "" when the client connected directly.
	Proxy string
}

// clientKey keys a request's Client in its context.
type clientKey struct{}

// Handler resolves the client of each request (see [Proxies.Resolve])
// before next serves it, and keeps the answer in the request's context
// for [Of]. A forwarding header from a trusted proxy that cannot be
// read is logged at debug level; the request then counts as the
// proxy's. With no proxies it returns next unchanged: Of reads
// RemoteAddr alone.
func (p Proxies) Handler(next http.Handler, log *slog.Logger) http.Handler {
	if len(p) == 0 {
		return next
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !p.Trusts(peer.Addr()) {
			next.ServeHTTP(w, r) // Of reads RemoteAddr: nothing to keep
			return
		}
		client, err := p.Resolve(peer.Addr(), r.Header)
		if err != nil && !errors.Is(err, ErrNoForwarding) { // no header (a health check, say): nothing to report
			log.Debug("forwarding header from a trusted proxy unusable; counting the request against the proxy's address",
				"peer", r.RemoteAddr, "err", err)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, Client{Addr: client, Proxy: r.RemoteAddr})))
	})
}

// Of returns the client of r: the answer [Proxies.Handler] kept, or,
// for a request it did not see or that did not come from a trusted
// proxy, the peer's address from RemoteAddr.
func Of(r *http.Request) Client {
	if c, ok := r.Context().Value(clientKey{}).(Client); ok {
		return c
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return Client{}
	}
	return Client{Addr: ap.Addr().Unmap().WithZone("")}
}

// IP returns the address of r's client as text (see [Of]), or r's
// RemoteAddr when it is not an IP address with a port. It fits the sse
// package's Options.ClientIP, so that the broker's per-IP limit counts
// the same clients as the rest of the server.
func IP(r *http.Request) string {
	if c := Of(r); c.Addr.IsValid() {
		return c.Addr.String()
	}
	return r.RemoteAddr
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
