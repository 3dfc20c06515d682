package sse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ssewasm/ssewasm/shared/protocol"
)

// ServeHTTP serves one client's event stream. The request names its
// topics with the repeatable query parameter [protocol.TopicParam] (none means
// Options.DefaultTopic), may resume with the Last-Event-ID header or the
// [protocol.LastEventIDParam] query parameter (the header wins), and may ask for
// heartbeats as events with [protocol.HeartbeatParam]=event.
//
// A request is refused before the stream opens with 405 (not GET), 400
// (bad topics or heartbeat), 403 (Options.Authorize), 401 or 403 for
// its identity (Options.Identify and MayRead: 401 when anonymous,
// expired or revoked, 403 for a topic that is not for it), or 503 with
// Retry-After (over a limit, or after Shutdown). Otherwise the stream
// opens with 200, then sends the retry field (Options.Retry), then either
// the missed events or a [protocol.GapEvent], then live events and heartbeats
// until the client leaves, is evicted, or Shutdown.
func (b *Broker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The goroutine serving the request waits for the stream's whole
	// life. On the ordinary path (HTTP/2) it is one goroutine per stream,
	// and its stack is what it costs: the checks and the opening of the
	// stream (start), and each batch written (client.serve), run on
	// short-lived goroutines (onFreshStack), so that their deeper calls
	// do not grow the stack of the goroutine that waits, and its waiting
	// frames stay shallow (docs/design.md, "Streams over TLS").
	var c *client
	var reason error
	onFreshStack(func() { c, reason = b.start(w, r) })
	if c == nil {
		return
	}
	if reason == nil {
		reason = c.serve(r.Context())
	}
	// The response stays bounded for what net/http writes after us (the
	// end of a chunked body): unless end set it, clear nothing.
	if !c.killed.Load() && b.opts.WriteTimeout > 0 {
		c.setWriteDeadline(time.Now().Add(b.opts.WriteTimeout))
	}
	b.finish(c, reason)
}

// start checks the request, registers its client and opens the stream
// (see open), or refuses it. It returns the client, and why the stream
// ended if it did, for the ordinary path to go on serving; nil when
// nothing is left to do (refused, or hijacked: the writers own the
// stream).
func (b *Broker) start(w http.ResponseWriter, r *http.Request) (*client, error) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		b.reject(w, r, http.StatusMethodNotAllowed, fmt.Errorf("%w: method %s; an event stream is a GET", ErrBadRequest, r.Method))
		return nil, nil
	}
	// A malformed query is refused, as on /publish: r.URL.Query would
	// drop the bad pairs and subscribe to the default topic instead.
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		b.reject(w, r, http.StatusBadRequest, fmt.Errorf("%w: the query string is malformed (%v); percent-encode the values", ErrBadRequest, err))
		return nil, nil
	}
	topics, err := parseTopics(q[protocol.TopicParam], b.opts.DefaultTopic)
	if err != nil {
		b.reject(w, r, http.StatusBadRequest, fmt.Errorf("%w: %w", ErrBadRequest, err))
		return nil, nil
	}
	hb := protocol.HeartbeatCommentValue
	switch v := q.Get(protocol.HeartbeatParam); v {
	case "", protocol.HeartbeatCommentValue:
	case protocol.HeartbeatEventValue:
		hb = v
	default:
		b.reject(w, r, http.StatusBadRequest, fmt.Errorf("%w: %s=%s; use %s=%s or %s=%s", ErrBadRequest, protocol.HeartbeatParam, clip(v),
			protocol.HeartbeatParam, protocol.HeartbeatEventValue, protocol.HeartbeatParam, protocol.HeartbeatCommentValue))
		return nil, nil
	}
	lastID := r.Header.Get("Last-Event-ID")
	if lastID == "" {
		lastID = q.Get(protocol.LastEventIDParam)
	}
	// The stream outlives the request: keep copies of only what it needs,
	// so that a big header or query is collected. An ID longer than
	// protocol.MaxIDLen is malformed (a gap) whatever follows its first
	// MaxIDLen+1 bytes.
	lastID = strings.Clone(lastID[:min(len(lastID), protocol.MaxIDLen+1)])
	for i, t := range topics {
		topics[i] = strings.Clone(t)
	}
	if b.opts.Authorize != nil {
		if err := b.opts.Authorize(r, topics); err != nil {
			b.reject(w, r, statusOf(err, http.StatusForbidden), err)
			return nil, nil
		}
	}
	id, code, err := b.identify(r, topics)
	if err != nil {
		b.reject(w, r, code, err)
		return nil, nil
	}

	c := &client{
		b:     b,
		t:     newResponseWriter(w),
		hbEvt: hb == protocol.HeartbeatEventValue,
		info: ClientInfo{
			ID:          b.nextID.Add(1),
			IP:          strings.Clone(b.opts.ClientIP(r)),
			Topics:      topics,
			LastEventID: lastID,
			Heartbeat:   hb,
			Connected:   time.Now(),
			Identity:    id,
		},
	}
	// Register for live events first, then read history: see Engine.
	if err := b.register(c); err != nil {
		code := http.StatusServiceUnavailable
		if errors.Is(err, ErrRevoked) {
			code = http.StatusUnauthorized
		}
		b.reject(w, r, code, err)
		return nil, nil
	}
	if conn := b.hijack(w, r); conn != nil {
		b.serveHijacked(r.Context(), c, conn, w.Header()) // the writers own the stream from here on, and end it
		return nil, nil
	}
	if d := b.detach(w); d != nil {
		b.serveDetached(r.Context(), c, d) // likewise, for an HTTP/2 stream of package h2
		return nil, nil
	}
	c.serveOrdinary()
	if err := checkFlush(w); err != nil { // nothing written yet: answer with an error
		b.reject(w, r, http.StatusInternalServerError, err)
		b.finish(c, errNotOpened)
		return nil, nil
	}
	if raw := requestSocket(r); raw != nil { // HTTP/1.x with ConnContext: looked at for a reader that stops
		b.mu.Lock() // the heartbeat goroutine reads it with b.mu held
		c.t.(*responseWriter).raw = raw
		b.mu.Unlock()
	}
	setStreamHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	return c, b.open(r.Context(), c, nil)
}

// open opens the stream of a registered client, on either path: it logs
// the connect, calls OnConnect, and writes head (the response head of a
// hijacked stream; nil on the ordinary path, whose head the
// ResponseWriter sends with the first flush), the retry line, and either
// the gap event or the replay of the events missed since
// ClientInfo.LastEventID, counting them. It sets c.through, so that
// live batches skip what the replay covered. A replay the engine cannot
// read gives the gap event instead (see replayfail.go). Its error says
// why the stream ended. ctx ends the replay when the client leaves.
func (b *Broker) open(ctx context.Context, c *client, head []byte) error {
	b.opts.Logger.Debug("sse: client connected", "client", c.info.ID, "ip", c.info.IP, "topics", c.info.Topics, "lastEventId", c.info.LastEventID)
	if f := b.opts.Hooks.OnConnect; f != nil {
		f(c.info)
	}
	bufs := net.Buffers{head, b.retryFrame()}
	if c.info.LastEventID == "" {
		return c.writeAll(bufs)
	}
	rep, err := b.engine.Replay(ctx, c.info.Topics, c.info.LastEventID)
	if err != nil {
		if ctx.Err() != nil { // the client left: no failure
			return err
		}
		rep = b.replayFailed(c, err)
	}
	if rep.Release != nil {
		defer rep.Release()
	}
	c.through = rep.Through
	if rep.Gap != "" {
		bufs = append(bufs, gapFrame(c.info.LastEventID, rep))
		b.stats.gaps.Add(1)
	}
	// Write the replay in chunks, each with its own deadline, so a long
	// replay to a slow but live client is not cut off; and part by part,
	// if the engine reads it so (Replay.More). Each chunk is checked
	// against the stream's grants as they are then: a revocation or an
	// expiry may land during a long replay.
	msgs := rep.Messages
	for {
		chunk := msgs[:min(len(msgs), replayChunk)]
		cut := b.expireDue(c)
		if cut {
			// The writer sends what ends the stream, after the head.
			c.cutReplay()
			chunk, msgs = nil, nil
		}
		lost := c.lost.Load()
		n := 0
		for _, m := range chunk {
			if lost != 0 && c.lostTopic(m.Topic, lost) {
				continue
			}
			bufs = append(bufs, m.Frame)
			n++
		}
		if len(bufs) > 0 {
			err := c.writeAll(bufs)
			clear(bufs) // a part's frames are the engine's to free
			if err != nil {
				return err
			}
		}
		bufs = bufs[:0]
		b.stats.replayed.Add(uint64(n))
		if cut {
			return nil
		}
		if msgs = msgs[len(chunk):]; len(msgs) > 0 {
			continue
		}
		if rep.More == nil {
			return nil
		}
		if msgs, err = rep.More(ctx); err != nil {
			if ctx.Err() != nil {
				return err
			}
			return b.partFailed(c, rep, err)
		}
		if len(msgs) == 0 {
			return nil
		}
	}
}

// finish ends a stream, on either path, for reason: it leaves the
// registry (and, hijacked, the epoll set, and its connection closes),
// the hooks run, and Shutdown stops waiting for it.
func (b *Broker) finish(c *client, reason error) {
	if w := b.watcher.Load(); w != nil {
		if raw := c.t.socket(); raw != nil {
			w.remove(c, raw) // before the socket closes
		}
	}
	b.unregister(c)
	c.t.close()
	b.streamEnded(c, reason)
	b.wg.Done()
}

// streamEnded logs a stream's end and calls the hooks.
func (b *Broker) streamEnded(c *client, reason error) {
	if errors.Is(reason, ErrEvicted) {
		b.opts.Logger.Warn("sse: client evicted", "client", c.info.ID, "ip", c.info.IP, "topics", c.info.Topics, "reason", reason, "maxLag", b.opts.MaxLag)
		if f := b.opts.Hooks.OnEvict; f != nil {
			f(c.info)
		}
	}
	if reason != errNotOpened {
		b.opts.Logger.Debug("sse: client disconnected", "client", c.info.ID, "reason", reason)
		if f := b.opts.Hooks.OnDisconnect; f != nil {
			f(c.info, reason)
		}
	}
}

// errNotOpened is a stream's reason when it never opened.
var errNotOpened = errors.New("sse: stream not opened")

const replayChunk = 256

// gapFrame encodes the protocol.GapEvent for a Last-Event-ID that Replay could not
// replay exactly.
func gapFrame(lastID string, rep Replay) []byte {
	if len(lastID) > protocol.MaxIDLen {
		lastID = lastID[:protocol.MaxIDLen]
	}
	data, _ := json.Marshal(protocol.Gap{LastEventID: lastID, Reason: rep.Gap})                    // cannot fail: two strings
	frame, _ := AppendEvent(nil, Event{ID: rep.Head, Name: protocol.GapEvent, Data: string(data)}) // Head is an engine ID: valid
	return frame
}

// reject refuses a request before its stream opens.
func (b *Broker) reject(w http.ResponseWriter, r *http.Request, code int, reason error) {
	b.stats.rejected.Add(1)
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(int((b.opts.RetryAfter+time.Second-1)/time.Second)))
	}
	http.Error(w, reason.Error(), code)
	b.opts.Logger.Debug("sse: request refused", "status", code, "reason", reason)
	if f := b.opts.Hooks.OnReject; f != nil {
		f(r, reason)
	}
}
