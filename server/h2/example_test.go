package h2_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/ssewasm/ssewasm/internal/testcert"
	"github.com/ssewasm/ssewasm/server/h2"
)

// One TLS listener serves both protocols: the connections that choose
// HTTP/2 go to an h2.Server (on Linux an idle one holds no goroutine),
// the others to the http.Server, each after a handshake on a short-lived
// goroutine of its own.
func ExampleListener() {
	cert, err := testcert.New() // a real server: tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		log.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello over %s", r.Proto)
	})}
	srv := new(h2.Server)
	srv.ConfigureServer(hs) // hs.Shutdown tells srv's connections to go away
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	l := h2.NewListener(ln, h2.ListenerConfig{
		TLSConfig:  &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}},
		Server:     srv,
		HTTPServer: hs,
		OnRefuse:   func(r h2.Refusal) { log.Printf("refused a connection: %v", r) }, // count it in your metrics
	})
	served := make(chan error, 1)
	go func() { served <- hs.Serve(l) }() // Serve, not ServeTLS: the listener does the handshakes

	for _, http2 := range []bool{true, false} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: http2}
		resp, err := (&http.Client{Transport: tr}).Get("https://" + ln.Addr().String() + "/")
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		fmt.Println(string(body))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hs.Shutdown(ctx)                      // closes l, and GOAWAY to srv's connections
	if err := srv.Wait(ctx); err != nil { // hs.Shutdown does not wait for them
		srv.Close()
	}
	fmt.Println(<-served)
	// Output:
	// hello over HTTP/2.0
	// hello over HTTP/1.1
	// http: Server closed
}
