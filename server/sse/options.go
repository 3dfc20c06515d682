package sse

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ssewasm/ssewasm/shared/topic"
)

// Defaults of [Options], which the server binary's flags take too.
const (
	DefaultMaxLag          = 1 << 20
	DefaultPublishWait     = 100 * time.Millisecond
	DefaultWriteTimeout    = 10 * time.Second
	DefaultHeartbeat       = 15 * time.Second
	DefaultMaxClients      = 10000
	DefaultMaxClientsPerIP = 100
	DefaultMaxEventSize    = 1 << 20
	DefaultTopic           = "default"
	DefaultRetry           = 3 * time.Second
	DefaultRetryJitter     = 0.5
)

const (
	defaultRetryAfter = 5 * time.Second
	defaultSendBuffer = 128 << 10
)

// Options configure a [Broker]. The zero value of every field is its
// default, which the field documents; a negative number or duration
// turns the feature off or lifts the limit where the field says so, and
// New refuses it elsewhere. So Options{} is a working broker, and
// Options{Heartbeat: -1} one without heartbeats.
type Options struct {
	// Engine stores history and carries events; nil means
	// NewMemoryEngine(MemoryOptions{HistorySize: HistorySize, HistoryAge:
	// HistoryAge}), which Shutdown closes. An Engine you pass is yours to
	// close, after Shutdown.
	Engine Engine
	// HistorySize is how many events the default engine keeps; 0 means
	// 10,000. Set it only when Engine is nil.
	HistorySize int
	// HistoryAge is how long the default engine keeps an event; 0 means
	// 1 hour. Set it only when Engine is nil.
	HistoryAge time.Duration
	// HistoryBytes bounds the encoded frames the default engine keeps
	// (see MemoryOptions.HistoryBytes); 0 means 64 MiB. Set it only when
	// Engine is nil.
	HistoryBytes int

	// MaxLag is how far a client may fall behind, in bytes of encoded
	// events queued for it and not yet written (the frames are shared:
	// lag costs the client only references). A client over it makes
	// Publish wait for it (PublishWait); one still over after that is
	// evicted (its stream ends, and it resumes from history when it
	// reconnects), as is one at twice MaxLag at once. 0 means 1 MiB.
	MaxLag int
	// PublishWait is how long Publish waits, at most, for the clients
	// on its topic that are over MaxLag to catch up before they are
	// evicted: a burst slows the publisher instead of cutting readers
	// that pause briefly, and one stopped client holds up a publisher
	// for at most this long. 0 means 100 ms; negative means no wait
	// (evict at once).
	PublishWait time.Duration
	// FlushWindow, when positive, is how long a writer that was idle
	// waits after the first event arrives before it writes, so that one
	// write carries the events published meanwhile: fewer wake-ups and
	// writes per event at ordinary rates, for up to FlushWindow more
	// latency. 0 (the default) writes at once, after letting the
	// goroutines already runnable queue theirs.
	FlushWindow time.Duration
	// QueueSize, when positive, also evicts a client with that many
	// events queued, at once (no wait).
	//
	// Deprecated: bound lag by bytes with MaxLag; QueueSize is only kept
	// for old configurations.
	QueueSize int
	// WriteTimeout bounds each write to a client: a client that does not
	// take a batch within it is disconnected. 0 means 10 s; negative
	// means no bound.
	WriteTimeout time.Duration
	// SendBuffer is the kernel's send buffer (SO_SNDBUF) of a hijacked
	// stream's socket, in bytes; Linux allocates twice what is asked.
	// Left to autotuning, the socket of a reader that reads, but slowly,
	// grows its buffer up to net.ipv4.tcp_wmem's maximum (4 MB by
	// default): that much kernel memory per slow stream, and minutes of
	// events the broker has written but the client has not read, out of
	// MaxLag's sight (make soak found a reader 2.5 minutes behind).
	// Bounded, a slow reader's bytes wait in the broker's queue, where
	// MaxLag evicts it and it resumes from history. 0 means 128 KiB
	// (about 2.5 MB/s to a reader 100 ms away); negative leaves the
	// kernel's autotuning.
	SendBuffer int
	// Heartbeat is the most silence a stream has before the broker writes
	// a heartbeat, which keeps proxies from closing the connection and
	// finds dead clients. 0 means 15 s; negative means no heartbeats.
	Heartbeat time.Duration
	// Retry is sent as the retry field when a stream opens: the
	// browser's reconnection delay, spread by RetryJitter, so that
	// clients dropped together (a restart, a deploy) do not all come back
	// in the same instant. 0 means 3 s (about what browsers wait without
	// it); negative sends none, and browsers wait their own delay.
	Retry time.Duration
	// RetryJitter spreads Retry per stream: each gets Retry times a
	// random factor in [1-RetryJitter, 1+RetryJitter), so that clients
	// dropped together (a restart, a deploy) do not come back in the
	// same instant. 0 means 0.5 (±50 %); negative means none (every
	// stream gets Retry exactly); at most 1.
	RetryJitter float64
	// Rand returns a random number in [0, 1), for RetryJitter; nil means
	// math/rand/v2. Tests inject one to make the retry deterministic.
	Rand func() float64
	// RetryAfter is the Retry-After of a 503 answer (limits, shutdown),
	// in whole seconds. 0 means 5 s.
	RetryAfter time.Duration

	// MaxClients bounds the open streams; 0 means 10,000, negative
	// (-1) no limit.
	MaxClients int
	// MaxClientsPerIP bounds the open streams per ClientIP; 0 means 100,
	// negative (-1) no limit.
	MaxClientsPerIP int
	// MaxEventSize bounds an event's name and Data together, in bytes;
	// 0 means 1 MiB.
	MaxEventSize int
	// DefaultTopic is the topic of a request that names none, and of a
	// Publish with topic ""; "" means "default".
	DefaultTopic string

	// ClientIP returns the client address the per-IP limit counts; nil
	// means the host of r.RemoteAddr. Behind a proxy, return the address
	// it forwards, but only from a proxy you trust.
	ClientIP func(r *http.Request) string
	// Authorize decides whether the request may subscribe to topics; nil
	// lets everyone subscribe to anything. An error refuses the request
	// with 403 Forbidden and the error's message, or the status of a
	// [*StatusError]. It runs before Identify.
	Authorize func(r *http.Request, topics []string) error
	// Identify returns the identity of a stream request, from the app's
	// own authentication (its session cookie, a ticket): see [Identity].
	// nil: every stream is anonymous. An error refuses the request before
	// any byte, with 401 Unauthorized and the error's message, or the
	// status of a [*StatusError]; so does an identity that has expired
	// (ErrExpired) or that a revocation the broker knows takes
	// ([Broker.Revoke], ErrRevoked).
	Identify func(r *http.Request) (Identity, error)
	// MayRead decides whether id may read topic; nil: every topic to
	// everyone. When a stream opens, each topic it names must pass, or
	// the request is refused before any byte: with 401 when id is
	// anonymous (ErrSignInRequired), else 403 (ErrForbidden). When a
	// revocation makes a stream anonymous, it is asked again for each
	// topic, and the topics that fail stop. It must be fast and must not
	// block: the broker calls it with its registry locked.
	MayRead func(id Identity, topic string) bool
	// Hooks observe clients; see [Hooks].
	Hooks Hooks
	// Logger receives debug logs of connects and disconnects and warnings
	// of evictions; nil discards them.
	Logger *slog.Logger
}

// Hooks observe the broker. Each is optional, is called without any of
// the broker's locks held, from the goroutine serving the request (for
// a hijacked stream, OnDisconnect and OnEvict from a writer of the pool),
// and must not block: it delays that client, or others.
type Hooks struct {
	// OnConnect is called when a stream has opened, before any replay.
	OnConnect func(ClientInfo)
	// OnDisconnect is called when a stream has ended, with the reason:
	// ErrEvicted, ErrClosed (Shutdown), the request context's cause
	// (the client left), or a write error.
	OnDisconnect func(c ClientInfo, reason error)
	// OnEvict is called when a client is disconnected because it read too
	// slowly, before OnDisconnect.
	OnEvict func(ClientInfo)
	// OnReject is called for every request refused before its stream
	// opens (400, 403, 405, 503, 500), with the reason.
	OnReject func(r *http.Request, reason error)
}

// ClientInfo describes one stream, for Hooks.
type ClientInfo struct {
	ID          uint64   // unique within the broker
	IP          string   // from Options.ClientIP
	Topics      []string // as subscribed; do not modify
	LastEventID string   // as sent, "" if none
	Heartbeat   string   // "comment" or "event"
	Connected   time.Time
	Identity    Identity // from Options.Identify when the stream opened; a revocation does not change it
}

// withDefaults checks o and fills in the defaults.
func (o Options) withDefaults() (Options, error) {
	type check struct {
		bad bool
		msg string
	}
	for _, c := range []check{
		{o.Engine != nil && (o.HistorySize != 0 || o.HistoryAge != 0 || o.HistoryBytes != 0), "Options.HistorySize, HistoryAge and HistoryBytes configure the default engine only; with Options.Engine set, configure the engine itself"},
		{o.HistoryBytes < 0, fmt.Sprintf("Options.HistoryBytes is %d; use a positive size in bytes, or 0 for the default", o.HistoryBytes)},
		{o.HistorySize < 0, fmt.Sprintf("Options.HistorySize is %d; use a positive count, or 0 for the default", o.HistorySize)},
		{o.HistoryAge < 0, fmt.Sprintf("Options.HistoryAge is %v; use a positive duration, or 0 for the default", o.HistoryAge)},
		{o.QueueSize < 0, fmt.Sprintf("Options.QueueSize is %d; use a positive count, or 0 for no count bound (MaxLag bounds bytes)", o.QueueSize)},
		{o.MaxLag < 0, fmt.Sprintf("Options.MaxLag is %d; use a positive size in bytes, or 0 for the default", o.MaxLag)},
		{o.FlushWindow < 0 || o.FlushWindow > time.Second, fmt.Sprintf("Options.FlushWindow is %v; use 0 (off) up to 1s, a few milliseconds at most for live streams", o.FlushWindow)},
		{o.RetryJitter > 1, fmt.Sprintf("Options.RetryJitter is %v; use a fraction up to 1 (0.5: ±50 %%), 0 for the default or negative for none", o.RetryJitter)},
		{o.RetryAfter < 0, fmt.Sprintf("Options.RetryAfter is %v; use a positive duration, or 0 for the default", o.RetryAfter)},
		{o.MaxEventSize < 0, fmt.Sprintf("Options.MaxEventSize is %d; use a positive size in bytes, or 0 for the default", o.MaxEventSize)},
		{o.DefaultTopic != "" && !validTopic(o.DefaultTopic), fmt.Sprintf("Options.DefaultTopic %s is not a valid topic: use 1 to %d bytes of ASCII letters, digits and -_.:/@~", clip(o.DefaultTopic), topic.MaxLen)},
		{o.DefaultTopic == controlTopic, fmt.Sprintf("Options.DefaultTopic %s is reserved for the broker's own messages; pick another name", controlTopic)},
	} {
		if c.bad {
			return o, fmt.Errorf("sse: %s", c.msg)
		}
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.MaxLag, DefaultMaxLag)
	def(&o.SendBuffer, defaultSendBuffer)
	defDur(&o.PublishWait, DefaultPublishWait)
	def(&o.MaxClients, DefaultMaxClients)
	def(&o.MaxClientsPerIP, DefaultMaxClientsPerIP)
	def(&o.MaxEventSize, DefaultMaxEventSize)
	defDur(&o.WriteTimeout, DefaultWriteTimeout)
	defDur(&o.Heartbeat, DefaultHeartbeat)
	defDur(&o.RetryAfter, defaultRetryAfter)
	defDur(&o.Retry, DefaultRetry)
	if o.RetryJitter == 0 {
		o.RetryJitter = DefaultRetryJitter
	}
	if o.Rand == nil {
		o.Rand = defaultRand
	}
	if o.DefaultTopic == "" {
		o.DefaultTopic = DefaultTopic
	}
	if o.ClientIP == nil {
		o.ClientIP = remoteHost
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// remoteHost is the default ClientIP: the host of r.RemoteAddr.
func remoteHost(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}
