package sse

import (
	"context"

	"github.com/ssewasm/ssewasm/shared/protocol"
)

// Engine carries events between publishers and brokers and keeps their
// history. The [Broker] does everything HTTP (queues, writers, limits,
// heartbeats); the engine decides what an event's ID is, what history
// holds, and who hears about a publish. [MemoryEngine] serves one process;
// a distributed engine (planned: NATS JetStream, one stream for all
// topics, one subject per topic, Seq = the stream sequence) lets brokers
// on several servers share topics and history without changing the
// handler or the client.
//
// An engine's methods are safe for concurrent use. Its contract:
//
//   - IDs: every message has a Seq that increases (by one or more) in the
//     order of publication, across all topics, and the ID
//     [protocol.FormatID](epoch, Seq). The epoch names one history: if history is
//     ever lost or restarted, the epoch changes, so that an old ID is
//     reported as protocol.GapUnknown rather than taken for a position.
//   - Delivery: each subscription's deliver function is called with every
//     message published after Subscribe returned, from any instance,
//     exactly once, in increasing Seq order, one call at a time. deliver
//     does not block (the broker only enqueues) and must not be called
//     after the cancel function has returned.
//   - Handoff: a message whose deliver call (to any subscription) returned
//     before Replay was called has Seq <= the Replay's Through. The broker
//     registers a new client for live messages, then calls Replay, then
//     writes the replayed messages followed by the live ones with
//     Seq > Through: with this rule nothing is lost and nothing doubled.
type Engine interface {
	// Publish assigns e the next Seq and ID, encodes it once, stores it
	// in history, and delivers it to every subscription. e is valid and
	// its ID is empty (the broker checks). It returns the stored message,
	// or an error wrapping ErrClosed once the engine is closed.
	Publish(ctx context.Context, topic string, e Event) (*Message, error)

	// PublishOnce is Publish with an idempotency key (valid, see
	// [ValidIdempotencyKey]; the broker checks): if a message published
	// with key on topic is still remembered, it stores and delivers
	// nothing and returns that first message with dup true. Concurrent
	// calls with one key, through any instance, store exactly one
	// message. An engine remembers a key at least as long as its message
	// stays in the history; one that remembers keys longer (JetStream's
	// Duplicates window) returns, for a key whose message has left, a
	// Message with its Topic, Seq and ID and a nil Frame.
	PublishOnce(ctx context.Context, topic, key string, e Event) (m *Message, dup bool, err error)

	// Subscribe starts delivering every message published from now on
	// to deliver, as the contract above says. Calling cancel ends the
	// subscription; it is idempotent.
	Subscribe(deliver func(*Message)) (cancel func(), err error)

	// Replay reads the history for a client that last saw the event
	// lastEventID (not empty) and subscribes to topics. When lastEventID
	// is a position in the history, Messages holds every message on
	// topics with a greater Seq, up to and including Through, in Seq
	// order (or, with Replay.More, the first of them, and More the
	// rest, part by part). Otherwise Gap says why (and Messages is empty). Through and
	// Head are always set to the newest message in the history when
	// Replay read it. An error means the history could not be read at all:
	// the broker then sends the gap event (protocol.GapUnavailable) and live events.
	Replay(ctx context.Context, topics []string, lastEventID string) (Replay, error)
}

// Message is a published event as engines store and deliver it. A
// Message and its Frame are shared by every client and the history:
// never modify them.
type Message struct {
	Topic string
	Seq   uint64 // position in the history, increasing across topics
	ID    string // protocol.FormatID(epoch, Seq); the id: field in Frame
	Frame []byte // the event's wire form, with its ID, encoded once

	// local marks an event of [Broker.PublishLocal]: no Seq, no ID, never
	// stored, and never skipped at the replay-to-live handoff.
	local bool
}

// replayedBy reports whether a replay through Seq `through` covered m, so
// the live copy must be skipped. A local event is never replayed.
func (m *Message) replayedBy(through uint64) bool { return !m.local && m.Seq <= through }

// NewMessage encodes e with the ID protocol.FormatID(epoch, seq): engines call it
// to build the messages they store and deliver.
func NewMessage(topic, epoch string, seq uint64, e Event) (*Message, error) {
	e.ID = protocol.FormatID(epoch, seq)
	frame, err := AppendEvent(make([]byte, 0, frameSize(e)), e)
	if err != nil {
		return nil, err
	}
	return &Message{Topic: topic, Seq: seq, ID: e.ID, Frame: frame}, nil
}

// frameSize is a close guess at an event's wire size, for one allocation.
func frameSize(e Event) int {
	return 32 + len(e.ID) + len(e.Name) + len(e.Data) + len(e.Data)/16
}

// Replay is what [Engine.Replay] found.
type Replay struct {
	// Messages are the missed messages on the requested topics, in Seq
	// order; empty when Gap is set.
	Messages []*Message
	// Through is the Seq of the newest message in the history when it
	// was read (0 if none was ever published). The broker skips live
	// messages with Seq <= Through: Replay covered them.
	Through uint64
	// Head is the ID of that newest message, "" if none: the gap event
	// carries it, so a client that reconnects after a gap resumes there.
	Head string
	// Gap is "" when the replay is exact, or why it could not be.
	Gap protocol.GapReason

	// More, if not nil, reads the next part of a replay that the engine
	// does not hold at once (its memory is its own, not the history's):
	// the broker writes Messages, then calls More, writes what it
	// returns, and so on, until More returns no message. After an error
	// the broker sends the gap event (protocol.GapUnavailable, with Head's ID),
	// then live events.
	// An engine that replays from memory it keeps anyway (MemoryEngine)
	// leaves it nil.
	More func(ctx context.Context) ([]*Message, error)
	// Release, if not nil, is called once when the broker is done with
	// the replay, written or not: the engine frees what it holds for it.
	Release func()
}
