// Command server is the server side of the ssewasm demo: it serves the
// go-app pages (the browser side, built into web/app.wasm) and the classic
// demo's event stream at /stream.
//
//	go run ./server -addr 127.0.0.1:8844
//
// Run it from the repository root, or point -web at the web directory.
// SIGINT or SIGTERM shut it down gracefully: open streams end at once (or
// after -drain, during which /healthz answers 503 so that a load balancer
// sends new clients elsewhere), and the process exits within 5 seconds.
// Behind a reverse proxy, name it with -trusted-proxy so that the per-IP
// limit counts real clients (see docs/scale-out.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

// run starts the server and blocks until ctx is done, then shuts down
// gracefully. It prints the URL to open on stdout once it is listening.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))

	web, err := openWebDir(cfg.web)
	if err != nil {
		return err
	}

	svc, err := newService(cfg, web, log)
	if err != nil {
		return err
	}
	srv := svc.httpServer(cfg, log)
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server running? choose another port with -addr)", cfg.addr, err)
	}
	ln = svc.listener(ln, cfg)
	scheme := "http"
	if cfg.tlsCert != "" {
		scheme = "https"
	}
	url := scheme + "://" + ln.Addr().String() + "/"
	log.Info("listening", "url", url, "web", cfg.web, "version", web.version)
	fmt.Fprintf(stdout, "ssewasm is serving on %s\n", url)

	serveErr := make(chan error, 1) // buffered: Serve's result is read at most once
	go func() {
		// Over TLS, HTTP/2 is offered: it lifts the browsers' limit of
		// six HTTP/1.1 connections per origin.
		serveErr <- svc.serve(srv, ln, cfg, log)
	}()

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	if cfg.drain > 0 {
		log.Info("draining: /healthz answers 503 and new streams are refused", "drain", cfg.drain)
		svc.beginDrain()
		// Meanwhile the open streams close one by one over the window,
		// so that their clients reach the other instances spread out.
		dctx, dcancel := context.WithTimeout(context.Background(), cfg.drain)
		drained := make(chan struct{})
		go func() { defer close(drained); svc.broker.Drain(dctx, cfg.drain) }()
		select {
		case err := <-serveErr:
			dcancel()
			<-drained
			return fmt.Errorf("serve: %w", err)
		case <-time.After(cfg.drain):
		}
		dcancel()
		<-drained
	}
	log.Info("shutting down", "grace", cfg.shutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("graceful shutdown timed out; closing connections", "err", err)
		srv.Close()
	}
	if svc.h2 != nil { // HTTP/2 connections, which srv does not track (service.httpServer)
		if err := svc.h2.Wait(sctx); err != nil {
			log.Warn("graceful shutdown timed out; closing HTTP/2 connections", "err", err)
		}
		svc.h2.Close()
	}
	<-serveErr // Serve has returned http.ErrServerClosed
	log.Info("stopped")
	return nil
}
