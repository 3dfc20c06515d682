// Package adapter is the harness shared by the benchmark adapters: it puts
// one SSE library behind the endpoints of the ssewasm protocol that the
// load tool uses (docs/protocol.md), so that every library is measured
// through the same HTTP API:
//
//	GET  /events?topic=T              the event stream (no topic: "default")
//	POST /publish?topic=T&event=NAME  body = the event's data; 200 {"id":"..."} or {}
//	GET  /healthz                     200 ok
//
// The harness adds nothing per event: the library's own handler serves the
// stream and the library's own publish call sends the event.
package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Impl is one library behind the common endpoints.
type Impl struct {
	// Name is printed at start.
	Name string
	// Init, if set, runs after the flags are parsed, before serving.
	Init func()
	// Events serves GET /events for one topic, with the library's handler.
	Events func(w http.ResponseWriter, r *http.Request, topic string)
	// Publish sends data as an event named event ("" for unnamed) to the
	// subscribers of topic, and returns the event's ID if the library
	// assigns one, else "".
	Publish func(topic, event, data string) (id string, err error)
	// Shutdown ends the library's streams; it runs when the HTTP server
	// shuts down (http.Server.Shutdown waits for open streams).
	Shutdown func()
}

// maxBody bounds a published event's data.
const maxBody = 1 << 20

// handler returns the protocol's routes for impl.
func handler(impl Impl) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		topic := r.URL.Query().Get("topic")
		if topic == "" {
			topic = "default"
		}
		impl.Events(w, r, topic)
	})
	mux.HandleFunc("POST /publish", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		topic, event := q.Get("topic"), q.Get("event")
		if topic == "" {
			http.Error(w, "publish: missing topic parameter", http.StatusBadRequest)
			return
		}
		if strings.HasPrefix(event, "sse.") || strings.ContainsAny(event, "\r\n") {
			http.Error(w, "publish: reserved or invalid event name", http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			http.Error(w, "publish: "+err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		id, err := impl.Publish(topic, event, string(body))
		if err != nil {
			http.Error(w, "publish: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if id == "" {
			io.WriteString(w, "{}\n")
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"id": id})
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	return mux
}

// Main serves impl on -addr until SIGINT or SIGTERM. Adapters may define
// their own flags on flag.CommandLine before calling it.
func Main(impl Impl) {
	addr := flag.String("addr", "127.0.0.1:8855", "address to listen on (port 0 picks a free port)")
	flag.Parse()
	if impl.Init != nil {
		impl.Init()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, impl, *addr); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", impl.Name, err)
		os.Exit(1)
	}
}

func serve(ctx context.Context, impl Impl, addr string) error {
	srv := &http.Server{
		Handler:           handler(impl),
		ReadHeaderTimeout: 10 * time.Second,
		// No WriteTimeout: it would cut the streams.
		ErrorLog: log.New(os.Stderr, impl.Name+": ", 0),
	}
	if impl.Shutdown != nil {
		srv.RegisterOnShutdown(impl.Shutdown)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (choose another port with -addr)", addr, err)
	}
	fmt.Printf("%s is serving on http://%s/\n", impl.Name, ln.Addr())
	errc := make(chan error, 1) // buffered: read at most once
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
