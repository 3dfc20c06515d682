package clientip

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestParseProxy(t *testing.T) {
	tests := []struct {
		in, want string // want "" means an error
	}{
		{"127.0.0.1", "127.0.0.1/32"},
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"10.1.2.3/8", "10.0.0.0/8"}, // masked
		{"fd00::/8", "fd00::/8"},
		{"::1", "::1/128"},
		{"::ffff:10.0.0.1", "10.0.0.1/32"},
		{"::ffff:10.0.0.0/104", ""}, // would silently never match
		{"10.0.0.0/33", ""},
		{"localhost", ""},
		{"", ""},
		{"10.0.0.1:80", ""},
	}
	for _, tt := range tests {
		p, err := ParseProxy(tt.in)
		switch {
		case tt.want == "" && (err == nil || !strings.HasPrefix(err.Error(), "clientip: ")):
			t.Errorf("ParseProxy(%q) = %v, %v; want an error prefixed clientip:", tt.in, p, err)
		case tt.want != "" && err != nil:
			t.Errorf("ParseProxy(%q): %v", tt.in, err)
		case tt.want != "" && p.String() != tt.want:
			t.Errorf("ParseProxy(%q) = %v, want %s", tt.in, p, tt.want)
		}
	}
}

// testProxies: a load balancer at 127.0.0.1, a private network of
// proxies, and IPv6 ones.
var testProxies = Proxies{
	netip.MustParsePrefix("127.0.0.1/32"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("fd00::/8"),
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name      string
		peer      string
		xff, fwd  []string // header lines
		want      string
		malformed bool // an error is expected (and want is the peer)
	}{
		{name: "direct client", peer: "198.51.100.1", want: "198.51.100.1"},
		{name: "untrusted peer's XFF ignored", peer: "198.51.100.1", xff: []string{"203.0.113.9"}, want: "198.51.100.1"},
		{name: "untrusted peer's Forwarded ignored", peer: "198.51.100.1", fwd: []string{"for=203.0.113.9"}, want: "198.51.100.1"},
		{name: "untrusted peer's garbage ignored", peer: "198.51.100.1", xff: []string{"nonsense"}, want: "198.51.100.1"},
		{name: "trusted proxy, one hop", peer: "127.0.0.1", xff: []string{"203.0.113.9"}, want: "203.0.113.9"},
		{name: "spoof: client's own XFF before the proxy's entry", peer: "127.0.0.1", xff: []string{"1.1.1.1, 203.0.113.9"}, want: "203.0.113.9"},
		{name: "spoof: client claims a trusted address", peer: "127.0.0.1", xff: []string{"10.0.0.5, 203.0.113.9"}, want: "203.0.113.9"},
		{name: "spoof: client's garbage left of the proxy's entry", peer: "127.0.0.1", xff: []string{"<script>, 203.0.113.9"}, want: "203.0.113.9"},
		{name: "spoof: client's own XFF line, proxy's own line", peer: "127.0.0.1", xff: []string{"1.1.1.1", "203.0.113.9"}, want: "203.0.113.9"},
		{name: "chain of trusted proxies", peer: "127.0.0.1", xff: []string{"203.0.113.9, 10.0.0.7, 10.1.0.1"}, want: "203.0.113.9"},
		{name: "every hop trusted: the leftmost", peer: "127.0.0.1", xff: []string{"10.0.0.3, 10.0.0.7"}, want: "10.0.0.3"},
		{name: "XFF with ports", peer: "127.0.0.1", xff: []string{"[2001:db8::1]:4711, 203.0.113.9:80"}, want: "203.0.113.9"},
		{name: "XFF IPv6", peer: "127.0.0.1", xff: []string{"2001:db8::1"}, want: "2001:db8::1"},
		{name: "XFF IPv6 in brackets", peer: "127.0.0.1", xff: []string{"[2001:db8::1]"}, want: "2001:db8::1"},
		{name: "XFF 4-in-6 unmapped", peer: "127.0.0.1", xff: []string{"::ffff:203.0.113.9"}, want: "203.0.113.9"},
		{name: "4-in-6 peer trusted", peer: "::ffff:127.0.0.1", xff: []string{"203.0.113.9"}, want: "203.0.113.9"},
		{name: "IPv6 proxy", peer: "fd00::1", xff: []string{"203.0.113.9"}, want: "203.0.113.9"},
		{name: "XFF wins over Forwarded (which the client may have sent)", peer: "127.0.0.1", xff: []string{"203.0.113.9"}, fwd: []string{"for=1.1.1.1"}, want: "203.0.113.9"},
		{name: "no header from a trusted proxy", peer: "127.0.0.1", want: "127.0.0.1", malformed: true},
		{name: "malformed nearest XFF entry", peer: "127.0.0.1", xff: []string{"203.0.113.9, bogus"}, want: "127.0.0.1", malformed: true},
		{name: "empty XFF", peer: "127.0.0.1", xff: []string{""}, want: "127.0.0.1", malformed: true},
		{name: "XFF with a zone", peer: "127.0.0.1", xff: []string{"fe80::1%eth0"}, want: "127.0.0.1", malformed: true},
		{name: "XFF malformed behind a trusted hop", peer: "127.0.0.1", xff: []string{"bogus, 10.0.0.7"}, want: "127.0.0.1", malformed: true},

		{name: "Forwarded", peer: "127.0.0.1", fwd: []string{"for=203.0.113.9;proto=http;by=127.0.0.1"}, want: "203.0.113.9"},
		{name: "Forwarded case-insensitive name", peer: "127.0.0.1", fwd: []string{"For=203.0.113.9"}, want: "203.0.113.9"},
		{name: "Forwarded quoted IPv4 with port", peer: "127.0.0.1", fwd: []string{`for="203.0.113.9:4711"`}, want: "203.0.113.9"},
		{name: "Forwarded quoted IPv6", peer: "127.0.0.1", fwd: []string{`for="[2001:db8:cafe::17]"`}, want: "2001:db8:cafe::17"},
		{name: "Forwarded quoted IPv6 with port", peer: "127.0.0.1", fwd: []string{`for="[2001:db8:cafe::17]:4711"`}, want: "2001:db8:cafe::17"},
		{name: "Forwarded chain, rightmost untrusted", peer: "127.0.0.1", fwd: []string{`for=1.1.1.1, for=203.0.113.9;proto=https, for="[fd00::5]"`}, want: "203.0.113.9"},
		{name: "Forwarded spoof on the client's own line", peer: "127.0.0.1", fwd: []string{"for=1.1.1.1", "for=203.0.113.9"}, want: "203.0.113.9"},
		{name: "Forwarded garbage on the client's line", peer: "127.0.0.1", fwd: []string{`for="unterminated`, "for=203.0.113.9"}, want: "203.0.113.9"},
		{name: "Forwarded with spaces", peer: "127.0.0.1", fwd: []string{"for=1.1.1.1 ,  for=203.0.113.9 ; proto=http"}, want: "203.0.113.9"},
		{name: "Forwarded escaped quote", peer: "127.0.0.1", fwd: []string{`by="a\"b";for=203.0.113.9`}, want: "203.0.113.9"},
		{name: "Forwarded unknown", peer: "127.0.0.1", fwd: []string{"for=unknown"}, want: "127.0.0.1", malformed: true},
		{name: "Forwarded obfuscated", peer: "127.0.0.1", fwd: []string{"for=_hidden"}, want: "127.0.0.1", malformed: true},
		{name: "Forwarded without for", peer: "127.0.0.1", fwd: []string{"proto=https"}, want: "127.0.0.1", malformed: true},
		{name: "Forwarded unquoted IPv6", peer: "127.0.0.1", fwd: []string{"for=[2001:db8::1]"}, want: "127.0.0.1", malformed: true},
		{name: "Forwarded unquoted port", peer: "127.0.0.1", fwd: []string{"for=203.0.113.9:80"}, want: "127.0.0.1", malformed: true},
		{name: "Forwarded unterminated quote", peer: "127.0.0.1", fwd: []string{`for="203.0.113.9`}, want: "127.0.0.1", malformed: true},
		{name: "Forwarded duplicate for", peer: "127.0.0.1", fwd: []string{"for=203.0.113.9;for=1.1.1.1"}, want: "127.0.0.1", malformed: true},
		{name: "Forwarded empty value", peer: "127.0.0.1", fwd: []string{"for="}, want: "127.0.0.1", malformed: true},
		{name: "Forwarded trailing comma", peer: "127.0.0.1", fwd: []string{"for=203.0.113.9,"}, want: "127.0.0.1", malformed: true},
		{name: "Forwarded bare word", peer: "127.0.0.1", fwd: []string{"203.0.113.9"}, want: "127.0.0.1", malformed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tt.xff {
				h.Add("X-Forwarded-For", v)
			}
			for _, v := range tt.fwd {
				h.Add("Forwarded", v)
			}
			got, err := testProxies.Resolve(netip.MustParseAddr(tt.peer), h)
			if got.String() != tt.want || (err != nil) != tt.malformed {
				t.Errorf("Resolve(%s, %q) = %v, %v; want %s, error: %v", tt.peer, h, got, err, tt.want, tt.malformed)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "clientip: ") {
				t.Errorf("error %q not prefixed clientip:", err)
			}
		})
	}
}

// FuzzResolve: whatever a client sends, the proxy's own entry decides.
// A client's X-Forwarded-For (any bytes) that a trusted proxy extends with
// the client's address, or a Forwarded line it follows with its own, never
// changes the address counted; and an untrusted peer's headers are never
// believed.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{"", "1.1.1.1", "10.0.0.1, 203.0.113.9", "[2001:db8::1]:80", "nonsense", `for="[::1]:80";proto=http`, `for="x`, "for=1.1.1.1, for=_x", ",,,", "::ffff:1.2.3.4"} {
		f.Add(s)
	}
	real := netip.MustParseAddr("198.51.100.7")
	proxy := netip.MustParseAddr("127.0.0.1")
	f.Fuzz(func(t *testing.T, spoof string) {
		h := http.Header{}
		h.Set("X-Forwarded-For", spoof+", "+real.String())
		if got, err := testProxies.Resolve(proxy, h); got != real || err != nil {
			t.Fatalf("XFF %q: got %v, %v; want %v", h.Get("X-Forwarded-For"), got, err, real)
		}
		h = http.Header{"Forwarded": {spoof, "for=" + real.String()}}
		if got, err := testProxies.Resolve(proxy, h); got != real || err != nil {
			t.Fatalf("Forwarded %q: got %v, %v; want %v", h.Values("Forwarded"), got, err, real)
		}
		// Alone, the client's header may parse or not, but a malformed
		// one counts against the proxy.
		for _, h := range []http.Header{{"X-Forwarded-For": {spoof}}, {"Forwarded": {spoof}}} {
			got, err := testProxies.Resolve(proxy, h)
			if err != nil && got != proxy || err == nil && !got.IsValid() {
				t.Fatalf("%q: got %v, %v; want a valid address, or the proxy's with an error", h, got, err)
			}
			if got, err := testProxies.Resolve(real, h); got != real || err != nil {
				t.Fatalf("untrusted peer, %q: got %v, %v; want the peer", h, got, err)
			}
		}
	})
}

// TestOf: what a handler behind Handler sees, with and without proxies,
// and the one debug line for a header that cannot be read.
func TestOf(t *testing.T) {
	tests := []struct {
		name       string
		proxies    Proxies
		remoteAddr string
		xff        string
		want       Client
		ip         string // IP's answer
		logged     bool   // the unusable header is logged
	}{
		{"no proxies: the peer", nil, "198.51.100.1:4711", "203.0.113.9", Client{Addr: netip.MustParseAddr("198.51.100.1")}, "198.51.100.1", false},
		{"no proxies: IPv6 peer", nil, "[2001:db8::1]:4711", "", Client{Addr: netip.MustParseAddr("2001:db8::1")}, "2001:db8::1", false},
		{"no proxies: 4-in-6 peer unmapped", nil, "[::ffff:198.51.100.1]:4711", "", Client{Addr: netip.MustParseAddr("198.51.100.1")}, "198.51.100.1", false},
		{"untrusted peer: its header ignored", testProxies, "198.51.100.1:4711", "203.0.113.9", Client{Addr: netip.MustParseAddr("198.51.100.1")}, "198.51.100.1", false},
		{"trusted proxy: the client it names", testProxies, "127.0.0.1:4711", "203.0.113.9", Client{Addr: netip.MustParseAddr("203.0.113.9"), Proxy: "127.0.0.1:4711"}, "203.0.113.9", false},
		{"trusted proxy, no header: the proxy", testProxies, "127.0.0.1:4711", "", Client{Addr: netip.MustParseAddr("127.0.0.1"), Proxy: "127.0.0.1:4711"}, "127.0.0.1", false},
		{"trusted proxy, bad header: the proxy, logged", testProxies, "127.0.0.1:4711", "bogus", Client{Addr: netip.MustParseAddr("127.0.0.1"), Proxy: "127.0.0.1:4711"}, "127.0.0.1", true},
		{"RemoteAddr not an address", testProxies, "pipe", "203.0.113.9", Client{}, "pipe", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs strings.Builder
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			var got Client
			var ip string
			h := tt.proxies.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, ip = Of(r), IP(r)
			}), log)
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remoteAddr
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if got != tt.want || ip != tt.ip {
				t.Errorf("Of = %+v, IP = %q; want %+v, %q", got, ip, tt.want, tt.ip)
			}
			if r.RemoteAddr != tt.remoteAddr {
				t.Errorf("RemoteAddr changed to %q", r.RemoteAddr)
			}
			line := logs.String()
			if logged := strings.Contains(line, "unusable"); logged != tt.logged || logged && (!strings.Contains(line, "level=DEBUG") || !strings.Contains(line, "peer="+tt.remoteAddr)) {
				t.Errorf("log %q; want a debug line naming the peer: %v", line, tt.logged)
			}
		})
	}
}
