package main

import (
	"cmp"
	"context"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/ssewasm/ssewasm/server/clientip"
	"github.com/ssewasm/ssewasm/server/conncap"
	"github.com/ssewasm/ssewasm/server/h2"
	"github.com/ssewasm/ssewasm/server/internal/memrelease"
	"github.com/ssewasm/ssewasm/server/ratelimit"
	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/shared/action"
	"github.com/ssewasm/ssewasm/wasm/ui"
)

// defaultTopic is the topic of /events and /publish requests that name none.
const defaultTopic = sse.DefaultTopic

// service is everything the server serves.
type service struct {
	broker       *sse.Broker
	h2           *h2.Server // with -tls-cert and -http2-server=h2: the HTTP/2 connections' server
	closeEngine  func()     // after the broker has shut down
	handler      http.Handler
	shutdownOnce sync.Once
	// running is cancelled when shutdown begins: it ends the stats
	// publisher, and /healthz answers 503.
	running context.Context
	stop    context.CancelFunc
	// draining is set when a -drain window begins, before running is
	// cancelled: /healthz answers 503 and new streams are refused, while
	// open streams go on.
	draining  atomic.Bool
	statsDone chan struct{} // closed when the stats publisher has returned
	// releaseDone is closed when memrelease.Run has returned (at once
	// without -release-after-burst).
	releaseDone chan struct{}
	// publishing counts the running publishers (publishers.go).
	publishing sync.WaitGroup
	// refused counts what the caps refuse, for /metrics.
	refused *refusals
}

// newService builds the broker and routes every endpoint:
//
//	GET  /stream          the classic demo stream
//	GET  /events          topic streams (the broker)
//	POST /publish         publish to a topic
//	POST /login           sign in (auth.go), and /logout, /session/renew,
//	GET  /session         GET /session, POST /ticket
//	POST /action/<name>   the demo's typed actions (chat.go)
//	GET  /metrics         Prometheus
//	GET  /healthz         liveness
//	     /                the go-app pages and /web/ files
func newService(cfg config, web *webDir, log *slog.Logger) (*service, error) {
	refused := newRefusals()
	a, err := newAuth(cfg, refused, log)
	if err != nil {
		return nil, err
	}
	engine, closeEngine, err := openEngine(cfg.engine, cfg.historySize, cfg.historyAge, cfg.historyBytes, log)
	if err != nil {
		return nil, err
	}
	opts := sse.Options{
		// Private topics (shared/demo's declarations): a user's inbox is
		// theirs, the room is for the signed-in; the rest is public.
		Authorize:       a.checkTopics,
		Identify:        a.identifyStream,
		MayRead:         a.mayRead,
		Hooks:           sse.Hooks{OnReject: a.countRejects},
		Engine:          engine,
		MaxLag:          cfg.maxLag,
		PublishWait:     cfg.publishWait,
		FlushWindow:     cfg.flushWindow,
		QueueSize:       cfg.queueSize,
		WriteTimeout:    cfg.writeTimeout,
		Heartbeat:       cfg.heartbeat,
		Retry:           cmp.Or(cfg.retry, -1),       // the flag's 0 is none, the browser's own delay
		RetryJitter:     cmp.Or(cfg.retryJitter, -1), // the flag's 0 is none
		MaxClients:      cfg.maxClients,
		MaxClientsPerIP: cfg.maxClientsPerIP,
		MaxEventSize:    cfg.maxEventSize,
		DefaultTopic:    defaultTopic,
		ClientIP:        clientip.IP,
		Logger:          log,
	}
	if engine == nil {
		opts.HistorySize, opts.HistoryAge, opts.HistoryBytes = cfg.historySize, cfg.historyAge, cfg.historyBytes
	}
	broker, err := sse.New(opts)
	if err != nil {
		closeEngine()
		return nil, err
	}
	if onBroker != nil {
		onBroker(broker)
	}
	a.broker = broker
	acts, err := newActions(cfg, a, broker, log)
	if err != nil {
		broker.Shutdown(context.Background())
		closeEngine()
		return nil, err
	}
	s := &service{broker: broker, closeEngine: closeEngine, statsDone: make(chan struct{}), releaseDone: make(chan struct{}), refused: refused}
	web.refused = s.refused
	s.running, s.stop = context.WithCancel(context.Background())
	go func() {
		defer close(s.statsDone)
		publishStats(s.running, broker, time.Second, log)
	}()
	go func() {
		defer close(s.releaseDone)
		if cfg.releaseAfterBurst { // a reconnect storm's garbage goes back to the OS
			memrelease.Run(s.running, memrelease.Config{Count: func() int { return broker.Stats().Clients }})
		}
	}()
	for _, publish := range publishers {
		s.publishing.Go(func() { publish(s.running, broker, log) })
	}

	// The same routes as the wasm binary: without them go-app's handler
	// answers 404 for the pages.
	ui.Routes()

	mux := http.NewServeMux()
	// /stream counts under the broker's client limits, like /events.
	mux.Handle("GET "+ui.StreamPath, classicStream(broker, cmp.Or(cfg.streamInterval, time.Second)))
	mux.Handle(ui.EventsPath, s.refuseWhileDraining(broker)) // the broker answers 405 to other methods
	limiter := ratelimit.New(ratelimit.Limit{Rate: cfg.publishRate, Burst: cfg.publishBurst}, ratelimit.Limit{Rate: cfg.publishRateGlobal, Burst: cfg.publishBurstGlobal}, cfg.publishRateAddrs)
	mux.Handle(ui.PublishPath, limitPublishes(&publishHandler{broker: broker, defaultTopic: defaultTopic, maxEventSize: cfg.maxEventSize, token: cfg.publishToken,
		readTimeout: cfg.publishReadTimeout, gate: make(publishGate, cfg.maxPublishing), refused: s.refused, private: a.private}, limiter, s.refused))
	a.routes(mux)
	mux.Handle(action.PathPrefix, acts) // it answers 405 to other methods
	mux.Handle("GET /metrics", metricsHandler(broker, s.refused, acts))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() || s.running.Err() != nil {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	h := newAppHandler(web)
	if cfg.devBuild != "" {
		dev := newDevReload(s.running, cfg.devBuild, log)
		mux.Handle("GET "+devBuildPath, dev)
		dev.configure(h)
	}
	mux.Handle("/", appJS{h})
	// Behind -trusted-proxy the client a proxy names counts, for the
	// per-IP limit (ClientIP above), the publish rate limit and the
	// access log alike: resolved once, before everything else.
	s.handler = cfg.trustedProxies.Handler(logRequests(refuseUnknownMethods(cors(mux, cfg.allowOrigins), s.refused), log), log)
	return s, nil
}

// httpServer returns the server for s: the header bytes bounded, no
// ReadTimeout nor WriteTimeout (they would cut every stream: streams
// set a deadline per write, /publish one per body).
func (s *service) httpServer(cfg config, log *slog.Logger) *http.Server {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    cfg.maxHeaderBytes,
		// No WriteTimeout: it would cut every stream; streams set a
		// deadline per write instead.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// Streams on the ordinary path look at their sockets for
		// readers that stopped (sse.ErrNotReading).
		ConnContext: sse.ConnContext,
		HTTP2:       http2Config(),
	}
	switch {
	case !cfg.tlsHTTP2:
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true) // no "h2" in ALPN
	case cfg.http2Server == "h2" || cfg.http2Server == "":
		// Ours: the broker detaches each event stream from its handler
		// (docs/design.md, "Our own HTTP/2"). serve hands it the
		// connections that chose h2 once their handshake is done, and
		// http.Server never sees them; TLSNextProto is there for a
		// handshake it does itself. Its Shutdown sends GOAWAY; the
		// streams end by beginShutdown, as on HTTP/1.1.
		s.h2 = new(h2.Server) // its defaults, and srv's IdleTimeout
		s.h2.ConfigureServer(srv)
	}
	// http.Server.Shutdown waits for handlers to return, and stream
	// handlers only return when told: tell them first.
	srv.RegisterOnShutdown(func() { s.beginShutdown(cfg.shutdownGrace, log) })
	return srv
}

// listener caps ln's open connections at -max-conns (package conncap)
// and counts net/http's 431 answers (countHeaderSize).
// With TLS, sse.TLSListener goes under the cap, on the TCP sockets as
// accepted: HTTP/1.1 streams over TLS are then hijacked and written
// without blocking, like plain ones (TestStreamsAreHijacked).
func (s *service) listener(ln net.Listener, cfg config) net.Listener {
	if cfg.tlsCert != "" {
		ln = sse.TLSListener(ln)
	}
	if n := maxConnsFor(cfg.maxConns, conncap.FDLimit()); n > 0 { // n <= 0: no cap
		ln = conncap.New(ln, n, func() { s.refused.add(refusedConnCap) })
	}
	if cfg.tlsCert == "" {
		ln = countHeaderSize(ln, s.refused)
	}
	return ln
}

// maxConnsFor turns -max-conns into the cap: 0 means the descriptor
// limit less a headroom for the rest of the process (files served from
// /web/, the engine's connections, the log; see conncap.ForFDLimit);
// -1 no cap.
func maxConnsFor(flag, fdLimit int) int {
	if flag != 0 {
		return flag
	}
	return conncap.ForFDLimit(fdLimit)
}

// serve serves srv on ln (from listener) until srv is shut down. With
// -tls-cert the TLS handshakes are done by an h2.Listener on top of the
// cap, each in a short-lived goroutine of its own, so that the goroutine
// serving a connection starts with a small stack (handshake.go); it
// hands the connections that chose HTTP/2 to s.h2, and http.Server
// serves the others.
func (s *service) serve(srv *http.Server, ln net.Listener, cfg config, log *slog.Logger) error {
	if cfg.tlsCert == "" {
		return srv.Serve(ln)
	}
	tlsCfg, err := serverTLSConfig(cfg)
	if err != nil {
		ln.Close()
		return err
	}
	return srv.Serve(s.tlsListener(ln, srv, tlsCfg, log))
}

// beginDrain starts the -drain window: /healthz answers 503, so that a
// load balancer's health checks take the instance out, and new streams
// get 503 with Retry-After, which a proxy retries on another instance
// (see docs/scale-out.md). Open streams go on until beginShutdown.
func (s *service) beginDrain() { s.draining.Store(true) }

// refuseWhileDraining answers new stream requests with 503 during the
// -drain window.
func (s *service) refuseWhileDraining(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "this instance is draining before it stops: connect to another one", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// beginShutdown ends every stream, so that http.Server.Shutdown, which
// waits for handlers to return, does not wait forever. It is registered
// with RegisterOnShutdown.
func (s *service) beginShutdown(grace time.Duration, log *slog.Logger) {
	s.shutdownOnce.Do(func() { s.shutdown(grace, log) })
}

func (s *service) shutdown(grace time.Duration, log *slog.Logger) {
	s.stop()
	<-s.statsDone
	<-s.releaseDone
	s.publishing.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := s.broker.Shutdown(ctx); err != nil {
		log.Warn("broker shutdown", "err", err)
	}
	s.closeEngine()
}

// newAppHandler configures go-app's handler: our own name, icons and CSS (no
// request leaves the machine), a version taken from the wasm build, and a
// service worker that leaves event streams alone.
func newAppHandler(web *webDir) *app.Handler {
	return &app.Handler{
		Name:        "ssewasm",
		ShortName:   "ssewasm",
		Title:       "ssewasm: Server-Sent Events in Go",
		Description: "A Go server streams Server-Sent Events to a Go WebAssembly page.",
		Lang:        "en",
		Icon: app.Icon{
			Default:  "/web/icon-192.png",
			Large:    "/web/icon-512.png",
			Maskable: "/web/icon-512.png",
			SVG:      "/web/icon.svg",
		},
		BackgroundColor:       "#10141a",
		ThemeColor:            "#10141a",
		LoadingLabel:          "Loading the Go app: {progress}%",
		RawHeaders:            []string{wasmPreload, ui.EarlyStreams()},
		Styles:                []string{"/web/app.css"},
		Resources:             web,
		Version:               web.version,
		WasmContentLength:     strconv.FormatInt(web.wasmSize, 10),
		ServiceWorkerTemplate: serviceWorker,
	}
}

// http2Config sizes HTTP/2 for many long-lived, mostly idle streams with
// small requests (docs/design.md, "Streams over TLS"): frames of at most
// 16 KB (the protocol's minimum; we only read GET headers) and small
// HPACK tables, which a connection keeps for its whole life.
func http2Config() *http.HTTP2Config {
	return &http.HTTP2Config{
		MaxReadFrameSize:          16 << 10,
		MaxDecoderHeaderTableSize: 1 << 10,
		MaxEncoderHeaderTableSize: 1 << 10,
	}
}

// onBroker, when set (the profiling build: pprof.go), sees the broker
// once it is made.
var onBroker func(*sse.Broker)
