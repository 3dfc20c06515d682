package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/server/sse/jetstream"
)

// engineConfig chooses where events and their history live: in this
// process (the default, nothing to install), or in NATS JetStream, shared
// by several server instances.
type engineConfig struct {
	natsURL      string // -nats: an external NATS server
	natsEmbedded string // -nats-embedded: run JetStream in-process, storing in this directory
	replayBytes  int64  // -replay-bytes: jetstream.Options.ReplayBytes
}

func addEngineFlags(fs *flag.FlagSet, c *engineConfig) {
	fs.StringVar(&c.natsURL, "nats", "", "NATS server URL (nats://host:4222): share topics, IDs and history with other instances through JetStream")
	fs.StringVar(&c.natsEmbedded, "nats-embedded", "", "run an embedded NATS JetStream server storing history in this directory (survives restarts)")
	fs.Int64Var(&c.replayBytes, "replay-bytes", jetstream.DefaultReplayBytes, "with JetStream: bytes of replayed events read from NATS and not yet written that all replays may hold at once; a replay reads in parts and waits for room")
}

// natsTimeout bounds connecting to NATS and creating the stream at start.
const natsTimeout = 10 * time.Second

// embeddedMaxPayload is the embedded server's largest message: room for
// events well over the default -max-event-size of 1 MiB (NATS's own
// default is 1 MB, which a 1 MiB event would not fit).
const embeddedMaxPayload = 8 << 20

// exit ends the process when the engine loses continuity; tests replace it.
var exit = os.Exit

// openEngine returns the engine the flags ask for, and a function that
// releases it after the broker has shut down. A nil engine means the
// broker's own in-memory engine.
//
// With NATS, a connection lost while running is retried forever: publish
// answers 503 meanwhile, streams stay open, and delivery resumes where it
// stopped when NATS is back. If the stream's history is lost instead
// (deleted, or expired before this instance could deliver it), the process
// exits with status 1, so that its clients reconnect (to another instance,
// or this one restarted) and replay or get the sse.gap event.
func openEngine(c engineConfig, historySize int, historyAge time.Duration, historyBytes int, log *slog.Logger) (sse.Engine, func(), error) {
	switch {
	case c.natsURL == "" && c.natsEmbedded == "":
		return nil, func() {}, nil
	case c.natsURL != "" && c.natsEmbedded != "":
		return nil, nil, errors.New("-nats and -nats-embedded exclude each other: give -nats to share an external NATS server with other instances, or -nats-embedded for one instance that keeps its history")
	}

	var (
		nc       *nats.Conn
		embedded *server.Server
		err      error
	)
	if c.natsEmbedded != "" {
		embedded, nc, err = startEmbeddedNATS(c.natsEmbedded)
		if err != nil {
			return nil, nil, err
		}
		log.Info("embedded NATS JetStream started", "dir", c.natsEmbedded)
	} else {
		nc, err = nats.Connect(c.natsURL,
			nats.Name("ssewasm"),
			nats.Timeout(natsTimeout),
			nats.MaxReconnects(-1), // forever: the engine resumes when NATS is back
			nats.ReconnectWait(500*time.Millisecond),
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
				log.Warn("lost the connection to NATS; publishing answers 503 until it is back", "url", c.natsURL, "err", err)
			}),
		)
		if err != nil {
			return nil, nil, fmt.Errorf("cannot reach NATS at %s: %w: start it (for example `go run github.com/nats-io/nats-server/v2@v2.15.2 -js -sd DIR`) or fix -nats", c.natsURL, err)
		}
		log.Info("connected to NATS", "url", nc.ConnectedUrlRedacted())
	}
	release := func() {
		nc.Close()
		if embedded != nil {
			embedded.Shutdown()
			embedded.WaitForShutdown()
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), natsTimeout)
	defer cancel()
	eng, err := jetstream.New(ctx, nc, jetstream.Options{
		HistorySize:  historySize,
		HistoryAge:   historyAge,
		HistoryBytes: historyBytes,
		ReplayBytes:  c.replayBytes,
		Logger:       log,
		OnLost: func(err error) {
			log.Error("the JetStream history this instance serves is gone; exiting so that clients reconnect and replay (restart this instance)", "err", err)
			exit(1)
		},
	})
	if err != nil {
		release()
		return nil, nil, err
	}
	log.Info("events in JetStream", "stream", jetstream.DefaultStream, "epoch", eng.Epoch(), "history-size", historySize, "history-age", historyAge)
	return eng, func() {
		eng.Close()
		release()
	}, nil
}

// startEmbeddedNATS runs a JetStream server in this process, storing in
// dir and listening on no port, and connects to it in-process.
func startEmbeddedNATS(dir string) (*server.Server, *nats.Conn, error) {
	abs, err := filepath.Abs(dir)
	if err == nil {
		err = os.MkdirAll(abs, 0o750)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("-nats-embedded %s: cannot create the directory: %w", dir, err)
	}
	ns, err := server.NewServer(&server.Options{
		ServerName: "ssewasm-embedded",
		DontListen: true, // in-process only; share history between instances with -nats
		JetStream:  true,
		StoreDir:   abs,
		MaxPayload: embeddedMaxPayload,
		NoSigs:     true, // our own signal handling shuts it down
		NoLog:      true,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("-nats-embedded %s: %w", dir, err)
	}
	ns.Start()
	if !ns.ReadyForConnections(natsTimeout) {
		ns.Shutdown()
		return nil, nil, fmt.Errorf("-nats-embedded %s: the embedded NATS server did not start within %v (is another instance using this directory?)", dir, natsTimeout)
	}
	nc, err := nats.Connect("", nats.Name("ssewasm"), nats.InProcessServer(ns))
	if err != nil {
		ns.Shutdown()
		return nil, nil, fmt.Errorf("-nats-embedded %s: connecting to the embedded NATS server: %w", dir, err)
	}
	return ns, nc, nil
}
