package sse

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// ServeHTTP serves one client's event stream. The request names its
// topics with the repeatable query parameter [TopicParam] (none means
// Options.DefaultTopic), may resume with the Last-Event-ID header or the
// [LastEventIDParam] query parameter (the header wins), and may ask for
// heartbeats as events with [HeartbeatParam]=event.
//
// A request is refused before the stream opens with 405 (not GET), 400
// (bad topics or heartbeat), 403 (Options.Authorize), or 503 with
// Retry-After (over a limit, or after Shutdown). Otherwise the stream
// opens with 200, then sends the retry field (Options.Retry), then either
// the missed events or a [GapEvent], then live events and heartbeats
// until the client leaves, is evicted, or Shutdown.
func (b *Broker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		b.reject(w, r, http.StatusMethodNotAllowed, fmt.Errorf("%w: method %s; an event stream is a GET", ErrBadRequest, r.Method))
		return
	}
	q := r.URL.Query()
	topics, err := ParseTopics(q[TopicParam], b.opts.DefaultTopic)
	if err != nil {
		b.reject(w, r, http.StatusBadRequest, fmt.Errorf("%w: %w", ErrBadRequest, err))
		return
	}
	hb := "comment"
	switch v := q.Get(HeartbeatParam); v {
	case "", "comment":
	case "event":
		hb = "event"
	default:
		b.reject(w, r, http.StatusBadRequest, fmt.Errorf("%w: %s=%s; use %s=event or %s=comment", ErrBadRequest, HeartbeatParam, clip(v), HeartbeatParam, HeartbeatParam))
		return
	}
	lastID := r.Header.Get("Last-Event-ID")
	if lastID == "" {
		lastID = q.Get(LastEventIDParam)
	}
	if b.opts.Authorize != nil {
		if err := b.opts.Authorize(r, topics); err != nil {
			b.reject(w, r, authStatus(err), err)
			return
		}
	}

	c := &client{
		b:     b,
		ctx:   r.Context(),
		w:     w,
		rc:    http.NewResponseController(w),
		hbEvt: hb == "event",
		wake:  make(chan struct{}, 1),
		info: ClientInfo{
			ID:          b.nextID.Add(1),
			IP:          b.opts.ClientIP(r),
			Topics:      topics,
			LastEventID: lastID,
			Heartbeat:   hb,
			Connected:   time.Now(),
		},
	}
	// Register for live events first, then read history: see Engine.
	if err := b.register(c); err != nil {
		b.reject(w, r, http.StatusServiceUnavailable, err)
		return
	}
	if conn := hijack(w, r); conn != nil {
		// The writers own the stream from here on, and end it.
		if err := b.streamHijacked(c, conn, w.Header()); err != nil {
			b.endHijacked(c, err)
		}
		return
	}
	defer b.wg.Done()
	reason := b.stream(c, w, r)
	b.unregister(c)
	b.streamEnded(c, reason)
	// The response stays bounded for what net/http writes after us (the
	// end of a chunked body): unless end set it, clear nothing.
	if !c.killed.Load() && b.opts.WriteTimeout > 0 {
		c.rc.SetWriteDeadline(time.Now().Add(b.opts.WriteTimeout)) //nolint:errcheck // best effort
	}
}

// streamEnded logs a stream's end and calls the hooks.
func (b *Broker) streamEnded(c *client, reason error) {
	if errors.Is(reason, ErrEvicted) {
		b.opts.Logger.Warn("sse: client evicted", "client", c.info.ID, "ip", c.info.IP, "topics", c.info.Topics, "queue", b.opts.QueueSize)
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

// errNotOpened is stream's reason when the stream never opened.
var errNotOpened = errors.New("sse: stream not opened")

// stream opens the stream of a registered client, replays, and serves
// live events; it returns why the stream ended.
func (b *Broker) stream(c *client, w http.ResponseWriter, r *http.Request) error {
	if _, err := NewStream(w, r); err != nil {
		if errors.Is(err, ErrFlushUnsupported) { // nothing written yet
			b.reject(w, r, http.StatusInternalServerError, err)
		} else {
			b.stats.rejected.Add(1)
		}
		return errNotOpened
	}
	b.opts.Logger.Debug("sse: client connected", "client", c.info.ID, "ip", c.info.IP, "topics", c.info.Topics, "lastEventId", c.info.LastEventID)
	if f := b.opts.Hooks.OnConnect; f != nil {
		f(c.info)
	}
	through := uint64(0)
	pre := b.retryLine
	if c.info.LastEventID != "" {
		rep, err := b.engine.Replay(c.ctx, c.info.Topics, c.info.LastEventID)
		if err != nil {
			return err
		}
		through = rep.Through
		if rep.Gap != "" {
			pre = append(pre[:len(pre):len(pre)], gapFrame(c.info.LastEventID, rep)...)
			b.stats.gaps.Add(1)
		}
		// Write the replay in chunks, each with its own deadline, so a
		// long replay to a slow but live client is not cut off.
		msgs := rep.Messages
		for len(pre) > 0 || len(msgs) > 0 {
			chunk := msgs[:min(len(msgs), replayChunk)]
			n, err := c.send(pre, chunk, 0, nil)
			if err != nil {
				return err
			}
			b.stats.replayed.Add(uint64(n))
			pre, msgs = nil, msgs[len(chunk):]
		}
	} else if _, err := c.send(pre, nil, 0, nil); err != nil {
		return err
	}
	return c.serve(through)
}

const replayChunk = 256

// gapFrame encodes the GapEvent for a Last-Event-ID that Replay could not
// replay exactly.
func gapFrame(lastID string, rep Replay) []byte {
	if len(lastID) > maxIDLen {
		lastID = lastID[:maxIDLen]
	}
	data, _ := json.Marshal(struct { // cannot fail: two strings
		LastEventID string    `json:"lastEventId"`
		Reason      GapReason `json:"reason"`
	}{lastID, rep.Gap})
	frame, _ := AppendEvent(nil, Event{ID: rep.Head, Event: GapEvent, Data: string(data)}) // Head is an engine ID: valid
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
