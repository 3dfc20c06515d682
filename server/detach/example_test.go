package detach_test

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"

	"github.com/ssewasm/ssewasm/server/detach"
	"github.com/ssewasm/ssewasm/server/h2"
)

// A handler detaches its response, returns, and another goroutine
// writes the response and ends it; the server here is package h2's.
func Example() {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, ok := w.(detach.Detacher)
		if !ok {
			http.Error(w, "this server cannot detach a response", http.StatusNotImplemented)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		s, err := d.Detach() // the head goes out
		if err != nil {
			return
		}
		go func() { // runs on after the handler has returned
			defer s.Close()
			for i := range 3 {
				if err := s.WriteBuffers(net.Buffers{fmt.Appendf(nil, "line %d\n", i)}); err != nil {
					return // the client left
				}
			}
		}()
	})

	ts := httptest.NewUnstartedServer(handler)
	ts.EnableHTTP2 = true
	new(h2.Server).ConfigureServer(ts.Config)
	ts.TLS = ts.Config.TLSConfig
	ts.StartTLS()
	defer ts.Close()
	defer ts.Client().CloseIdleConnections()

	resp, err := ts.Client().Get(ts.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(resp.Proto, " ", resp.Status, "\n", string(body))
	// Output:
	// HTTP/2.0 200 OK
	// line 0
	// line 1
	// line 2
}
