// Package h2 is an HTTP/2 server whose event streams cost no goroutine.
//
// net/http's HTTP/2 server keeps two goroutines per connection and one
// per stream, with a 4 KB response buffer each, for as long as the
// stream is open: about 45 KB for a connection with one idle event
// stream, and 15 KB for each further stream. An sse.Broker served here
// instead detaches its streams (its ResponseWriter is a
// [detach.Detacher]): the handler returns once the stream has opened,
// the broker's writer pool writes its events as DATA frames, and an idle
// stream holds its flow-control window and a few hundred bytes of state.
// A connection served by [Server.Start] holds no goroutine while idle
// (on Linux its read loop parks on epoll); a goroutine writes to the
// socket only while frames wait.
//
// Every other request is served as by net/http: its handler runs on a
// goroutine of its own with an [http.ResponseWriter] that supports
// Flush, write and read deadlines ([http.ResponseController]) and full
// duplex bodies.
//
// The complete way to serve it is a [Listener] under an [http.Server]:
// the Listener does each TLS handshake on a short-lived goroutine (at
// most 1,024 at once, each within 10 s), hands the connections that
// chose HTTP/2 to the Server's Start, and returns the others to the
// http.Server:
//
//	hs := &http.Server{Handler: mux}
//	srv := new(h2.Server)
//	srv.ConfigureServer(hs) // hs.Shutdown ends srv's connections gracefully
//	l := h2.NewListener(ln, h2.ListenerConfig{TLSConfig: cfg, Server: srv, HTTPServer: hs})
//	hs.Serve(l)
//
// Or, simpler and without parking, let http.Server do the handshakes
// and hand over the connections that chose "h2" ([Server.ServeConn],
// whose read loops wait):
//
//	srv := &http.Server{Handler: mux, TLSConfig: &tls.Config{...}}
//	new(h2.Server).ConfigureServer(srv) // "h2" in ALPN, served here
//	srv.ServeTLS(ln, certFile, keyFile)
//
// What it does not do: server push, trailers in responses (a handler's
// trailers are dropped), request trailers beyond reading past them,
// prior-knowledge HTTP/2 over cleartext (h2c), and stream priorities (all
// streams are equal; a connection's frames go out in the order written).
// It answers the protocol's misuse as RFC 9113 says, which h2spec
// checks, and bounds what a client can make it hold or do:
//   - streams per connection, also those reset whose handlers still run
//     ("rapid reset", and streams it resets itself, "MadeYouReset");
//   - header bytes, and the time a header block may take
//     (http.Server.ReadHeaderTimeout; 10 s if it and ReadTimeout are 0);
//   - buffered request bodies: the flow-control windows it grants;
//   - what waits for the socket: handlers' writes wait for room, and a
//     client that makes it answer (resets, acknowledgements) faster than
//     it reads is told to go away (ENHANCE_YOUR_CALM), as by Go's server;
//   - SETTINGS frames: 100, then 10 a second;
//   - the preface: its SETTINGS frame must come within 2 s.
package h2
