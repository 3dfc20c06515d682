package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/ssewasm/ssewasm/server/sse"
)

// publishTimeout bounds one publish: the engine may be remote.
const publishTimeout = 10 * time.Second

// publishHandler serves POST /publish?topic=T&event=NAME: the body becomes
// the event's data verbatim. It answers {"id": "<id>"}; bad input gets a
// JSON error and publishes nothing. With an Idempotency-Key header, a
// retry of a publish whose event is still in the history answers the
// first event's ID, with Idempotent-Replayed: true, and publishes nothing.
type publishHandler struct {
	broker       *sse.Broker
	defaultTopic string
	maxEventSize int
	token        string        // empty: no token needed
	readTimeout  time.Duration // for the body; 0: none
	gate         publishGate   // publishes in progress
	refused      *refusals
	// private reports whether a topic needs the publish token, even
	// when none is configured (a user's inbox): users write to it
	// through actions, which the server checks against the identity.
	private func(topic string) bool
}

// publishParams are the query parameters of POST /publish.
type publishParams struct {
	Topic string
	Event string
}

// parsePublishParams reads and checks the query of a publish request.
// Absent topic means the default topic; absent event means an unnamed
// ("message") event.
func parsePublishParams(rawQuery, defaultTopic string) (publishParams, error) {
	q, err := parseQuery(rawQuery)
	if err != nil {
		return publishParams{}, err
	}
	p := publishParams{Topic: defaultTopic}
	for k, vs := range q {
		switch k {
		case "topic", "event":
			if len(vs) > 1 {
				return p, fmt.Errorf("%s is given %d times: give it once", k, len(vs))
			}
		default:
			return p, fmt.Errorf("unknown parameter %q: /publish takes topic and event", k)
		}
	}
	if vs, ok := q["topic"]; ok {
		p.Topic = vs[0]
		if p.Topic == "" {
			return p, errors.New("topic is empty: leave it out for the default topic")
		}
	}
	if vs, ok := q["event"]; ok {
		p.Event = vs[0]
		if p.Event == "" {
			return p, errors.New("event is empty: leave it out for an unnamed event")
		}
	}
	// The event itself (name, topic, size) is checked by the broker,
	// the one validator of publish input: its errors become 400 or 413.
	return p, nil
}

func (h *publishHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "use POST, with the event's data as the body")
		return
	}
	// The body has its deadline from the start: net/http reads what a
	// handler leaves unread before it answers, so an early answer waits
	// for the body too.
	setPublishReadDeadline(w, time.Now().Add(h.readTimeout), h.readTimeout > 0)
	if h.token != "" && !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="publish"`)
		writeError(w, http.StatusUnauthorized, "a valid token is needed: send Authorization: Bearer <token>")
		return
	}
	p, err := parsePublishParams(r.URL.RawQuery, h.defaultTopic)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	// With a token configured, the request holds it by now (else 401).
	if h.private != nil && h.private(p.Topic) && h.token == "" {
		h.refused.add(refusedPublishPrivate)
		writeError(w, http.StatusForbidden, fmt.Sprintf("topic %s is private: only a backend holding the publish token (-publish-token) may publish to it, and none is configured; users write through actions (/action/)", clipText(p.Topic, 80)))
		return
	}
	key, err := idempotencyKey(r.Header)
	if err != nil {
		h.refused.add(refusedIdempotencyKey)
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !h.gate.enter() {
		h.refused.add(refusedPublishBusy)
		// Not a byte more of the body: the answer goes out at once,
		// and the connection closes after it.
		setPublishReadDeadline(w, time.Now(), true)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("%d publishes are in progress, the limit (-max-publishing): retry in a second", cap(h.gate)))
		return
	}
	defer h.gate.leave()
	// Read one byte more than allowed, to tell "at the limit" from "over".
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(h.maxEventSize)+1))
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			h.refused.add(refusedPublishTimeout)
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusRequestTimeout, fmt.Sprintf("the body took over %v to arrive (-publish-read-timeout): send it at once", h.readTimeout))
			return
		}
		writeError(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	if len(body) > h.maxEventSize {
		writeError(w, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("the body is over the limit of %d bytes: send smaller events", h.maxEventSize))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), publishTimeout)
	defer cancel()
	pub, err := h.broker.PublishWith(ctx, p.Topic, sse.Event{Name: p.Event, Data: string(body)}, sse.PublishOptions{IdempotencyKey: key})
	switch {
	case err == nil:
		if pub.Duplicate {
			w.Header().Set(replayedHeader, "true")
		}
		writeJSON(w, http.StatusOK, map[string]string{"id": pub.ID})
	case errors.Is(err, sse.ErrIdempotencyKeyReused):
		writeError(w, http.StatusUnprocessableEntity, err.Error())
	case errors.Is(err, sse.ErrEventTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, err.Error())
	case errors.Is(err, sse.ErrInvalidTopic), errors.Is(err, sse.ErrInvalidEvent), errors.Is(err, sse.ErrReservedEvent), errors.Is(err, sse.ErrInvalidData), errors.Is(err, sse.ErrInvalidIdempotencyKey):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, sse.ErrClosed):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "the server is shutting down: publish again elsewhere")
	default:
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "publishing failed: "+err.Error())
	}
}

// The headers of an idempotent publish: the names Stripe and many other
// APIs use. The key's is also that of the IETF httpapi draft, which
// answers a key reused for another payload with 422, as we do.
const (
	keyHeader      = "Idempotency-Key"
	replayedHeader = "Idempotent-Replayed" // "true" on the answer to a retry
)

// idempotencyKey returns the request's Idempotency-Key, "" if it has none
// (or an empty one), or why it is not a key.
func idempotencyKey(h http.Header) (string, error) {
	vs := h.Values(keyHeader)
	switch {
	case len(vs) == 0 || len(vs) == 1 && vs[0] == "":
		return "", nil
	case len(vs) > 1:
		return "", fmt.Errorf("%s is given %d times: give it once", keyHeader, len(vs))
	case len(vs[0]) > sse.MaxIdempotencyKeyLen:
		return "", fmt.Errorf("%s is %d bytes, over the limit: it must be 1 to %d bytes of visible ASCII, such as a UUID", keyHeader, len(vs[0]), sse.MaxIdempotencyKeyLen)
	case !sse.ValidIdempotencyKey(vs[0]):
		i := strings.IndexFunc(vs[0], func(r rune) bool { return r < '!' || r > '~' })
		return "", fmt.Errorf("%s has a byte that is not visible ASCII (a space, a control character or non-ASCII) at byte %d: it must be 1 to %d bytes of visible ASCII, such as a UUID", keyHeader, i, sse.MaxIdempotencyKeyLen)
	}
	return vs[0], nil
}

// authorized checks the bearer token in constant time.
func (h *publishHandler) authorized(r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	got, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(h.token)) == 1
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// publishGate bounds the publishes in progress: each holds up to
// -max-event-size of body, so the gate bounds their memory.
type publishGate chan struct{}

func (g publishGate) enter() bool {
	select {
	case g <- struct{}{}:
		return true
	default:
		return false
	}
}

func (g publishGate) leave() { <-g }

// setPublishReadDeadline sets the read deadline of a /publish request,
// when set is true: a server-wide ReadTimeout would end the streams too.
func setPublishReadDeadline(w http.ResponseWriter, at time.Time, set bool) {
	if set {
		// An error means the writer cannot set deadlines (a test
		// double): the body is then only bounded in size.
		http.NewResponseController(w).SetReadDeadline(at) //nolint:errcheck
	}
}
