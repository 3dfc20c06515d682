package clientip_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"

	"github.com/ssewasm/ssewasm/server/clientip"
)

// A load balancer at 10.0.0.2 forwards a client's request; the client
// tried to pass for another address with its own X-Forwarded-For, which
// the load balancer extended with the address it saw.
func Example() {
	proxies := clientip.Proxies{netip.MustParsePrefix("10.0.0.0/8")}
	h := proxies.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := clientip.Of(r)
		fmt.Printf("client %s, through %s; per-IP limits count %s\n", c.Addr, c.Proxy, clientip.IP(r))
	}), nil)

	r := httptest.NewRequest("GET", "/events", nil)
	r.RemoteAddr = "10.0.0.2:41000"
	r.Header.Set("X-Forwarded-For", "192.0.2.1, 198.51.100.7")
	h.ServeHTTP(httptest.NewRecorder(), r)
	// Output: client 198.51.100.7, through 10.0.0.2:41000; per-IP limits count 198.51.100.7
}
