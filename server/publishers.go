package main

import (
	"context"
	"log/slog"

	"github.com/ssewasm/ssewasm/server/sse"
)

// publishers are the app's own event sources: each runs from the
// server's start until ctx is done, publishing through broker, and must
// return then; shutdown waits for it before it stops the broker. A file
// of this package adds its publisher from an init function (README,
// "Start your own app"):
//
//	func init() { publishers = append(publishers, publishScores) }
var publishers []func(ctx context.Context, broker *sse.Broker, log *slog.Logger)
