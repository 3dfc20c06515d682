package eventsource

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ssewasm/ssewasm/shared/event"
	"github.com/ssewasm/ssewasm/shared/protocol"
	"github.com/ssewasm/ssewasm/shared/topic"
)

// Options configure [Open]. The zero value is ready to use: reopen with the
// default backoff, no watchdog.
type Options struct {
	// WithCredentials sets the EventSource's withCredentials: cookies and
	// HTTP authentication go with a cross-origin request, and the server must
	// then answer with Access-Control-Allow-Credentials: true and an explicit
	// Access-Control-Allow-Origin. Default false: credentials are sent only
	// to the page's own origin.
	WithCredentials bool

	// Reopen says when to open a new EventSource after the browser gave up
	// and the status probe found nothing permanent (see [StatusError]).
	// Default: reopen, after 1 s, doubling up to 30 s, with jitter.
	Reopen ReopenPolicy

	// Watchdog, when positive, reopens the stream when nothing arrived on an
	// open stream for that long: no event the Source listens to, no
	// heartbeat. It adds heartbeat=event to the URL so that the server's
	// heartbeats reach the page; set it to a few heartbeat intervals (the
	// server's default interval is 15 s). Events of a name nobody subscribed
	// to are invisible to the page and do not count. Default 0: no watchdog.
	Watchdog time.Duration

	// OnStateChange, if set, is called with the Source's new state each time
	// it changes, including to [StateClosed] by [Source.Close] and to
	// [StateFailed], where [Source.Err] says which status stopped the
	// reopening. It runs on the browser's event loop or on a timer goroutine,
	// and must not block. Default nil.
	OnStateChange func(State)

	// Renew, if set, renews the session when the server says the stream's
	// grants expired (the event [protocol.ExpiredEvent], after which the
	// server ends the stream): typically a fetch of the app's renewal
	// endpoint with credentials, which sets a fresh session cookie. The
	// Source closes its EventSource as the event arrives, so the browser
	// never reconnects with the old cookie, calls Renew on a goroutine of
	// its own (Renew may block; it must return when ctx ends, which
	// [Source.Close] and [Source.Reopen] do), then opens a new EventSource
	// that resumes after the last event ID: the server's replay gives every
	// event since, none lost and none doubled. The Source is in
	// [StateConnecting] meanwhile. A Renew that fails puts the Source in
	// [StateFailed] with a [*RenewError]: sign in again, then call
	// [Source.Reopen]. Renew runs whatever [ReopenPolicy.Disabled] says.
	//
	// Default nil: on expiry the Source closes its EventSource and goes on
	// as when the browser gives up: it probes the status (the server's 401
	// for the expired session puts it in StateFailed with a [*StatusError])
	// or reopens after the backoff.
	Renew func(ctx context.Context) error
}

// ReopenPolicy is the backoff between the EventSources a [Source] opens
// after the browser gave up. The n-th consecutive reopen (n from 0) waits
// min(Initial·Multiplierⁿ, Max), minus a random part of up to Jitter of it.
// A stream that opens resets n to 0.
type ReopenPolicy struct {
	// Disabled turns reopening off: once the browser gives up, the Source
	// stays in StateClosed, without probing the status, until the caller
	// calls Source.Reopen or closes it. Default false.
	Disabled bool
	// Initial is the first delay. Default (0) 1 s.
	Initial time.Duration
	// Max caps the delay. Default (0) 30 s.
	Max time.Duration
	// Multiplier grows the delay after each failed reopen. Default (any
	// value below 1) 2.
	Multiplier float64
	// Jitter is the fraction of each delay that is random, up to 1: the
	// delay is drawn from [d·(1−Jitter), d], so that clients a server
	// dropped together do not come back together. Default (0) 0.5;
	// negative: no jitter.
	Jitter float64
}

// Defaults of [ReopenPolicy].
const (
	DefaultReopenInitial    = time.Second
	DefaultReopenMax        = 30 * time.Second
	DefaultReopenMultiplier = 2.0
	DefaultReopenJitter     = 0.5
)

// Delay returns the wait before the reopen numbered attempt (from 0), with
// rnd, in [0, 1), as the random draw.
func (p ReopenPolicy) Delay(attempt int, rnd float64) time.Duration {
	initial, maxDelay, mult, jitter := p.Initial, p.Max, p.Multiplier, p.jitter()
	if initial <= 0 {
		initial = DefaultReopenInitial
	}
	if maxDelay <= 0 {
		maxDelay = DefaultReopenMax
	}
	if mult < 1 {
		mult = DefaultReopenMultiplier
	}
	d := float64(initial)
	for range attempt {
		d *= mult
		if d >= float64(maxDelay) {
			break
		}
	}
	d = min(d, float64(maxDelay))
	return time.Duration(d - d*jitter*rnd)
}

// jitter returns the policy's Jitter with its default and bounds applied.
func (p ReopenPolicy) jitter() float64 {
	switch {
	case p.Jitter == 0:
		return DefaultReopenJitter
	case p.Jitter < 0:
		return 0
	case p.Jitter > 1:
		return 1
	}
	return p.Jitter
}

// State is the connection state of a [Source].
type State int

const (
	// StateConnecting means the stream is connecting: the first time, when
	// the browser reconnects after an error, or while the Source waits to
	// reopen after the browser gave up.
	StateConnecting State = 0
	// StateOpen means the stream is open and events are delivered.
	StateOpen State = 1
	// StateClosed means the source is closed for good, either by
	// [Source.Close] or because the browser gave up and reopening is
	// disabled.
	StateClosed State = 2
	// StateFailed means the server answered a status that will not change
	// by itself (see [StatusError]), or that the session could not be
	// renewed after the stream expired (see [RenewError]), so the Source
	// stopped reopening. [Source.Err] returns the *StatusError or the
	// *RenewError; [Source.Reopen] tries again once the cause is fixed, and
	// [Source.Close] still releases everything. It has no
	// EventSource.readyState counterpart.
	StateFailed State = 3
)

// String returns "connecting", "open", "closed" or "failed".
func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateOpen:
		return "open"
	case StateClosed:
		return "closed"
	case StateFailed:
		return "failed"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// StatusError is the answer that put a [Source] in [StateFailed]: when the
// browser gave up, the Source asked once more with fetch (its probe) and
// the server answered a status that reopening cannot change:
//
//   - 204 No Content: the server asks clients not to reconnect (the HTML
//     standard's way to stop an EventSource);
//   - 400 Bad Request, 414 URI Too Long: the URL (a topic, an ID) is wrong;
//   - 401 Unauthorized, 403 Forbidden: sign in, or get the right to read
//     the stream;
//   - 404 Not Found, 410 Gone: no stream at this URL;
//   - 405 Method Not Allowed, 406 Not Acceptable, 501 Not Implemented: the
//     URL is not an event stream.
//
// Every other answer keeps the Source reopening with backoff: 5xx (but 501)
// and 408, 429 are passing, and a 429 or 503 with a Retry-After in seconds
// (not an HTTP date) that the page may read (same origin, or exposed with
// Access-Control-Expose-Headers) delays the reopen at least that long. So
// does a 200 (the stream is back, or a page of the wrong Content-Type,
// which a captive portal may send for a while). A probe that gets no
// answer at all (network error, refused by CORS, no headers within 10 s)
// tells nothing, and the Source keeps reopening too.
type StatusError struct {
	Code   int    // the HTTP status code, such as 404
	Status string // the code and its reason phrase, as in net/http's Response.Status: "404 Not Found"
	URL    string // the URL probed: the one the next reopen would open
}

func (e *StatusError) Error() string {
	return "eventsource: " + e.URL + " answered " + e.Status + ", which reopening cannot change: " +
		statusAdvice(e.Code) + "; then call Source.Reopen (or Close and Open again)"
}

// statusAdvice says what to do about a permanent status.
func statusAdvice(code int) string {
	switch code {
	case 400, 414:
		return "correct the URL's query (a topic, an event ID)"
	case 401, 403:
		return "sign in, or get the right to read the stream"
	case 404, 410, 405, 406, 501:
		return "check the stream's path"
	}
	return "the server asks clients to stop"
}

// statusError returns the *StatusError for a probe's answer, or nil if
// the status may change (or is 0: no answer). phrase is the response's
// reason phrase or, over HTTP/2, which has none, the queue's own.
func statusError(code int, phrase, url string) *StatusError {
	switch code {
	case 204, 400, 401, 403, 404, 405, 406, 410, 414, 501:
		return &StatusError{Code: code, Status: strings.TrimSpace(strconv.Itoa(code) + " " + phrase), URL: url}
	}
	return nil
}

// RenewError is the error that put a [Source] in [StateFailed] when the
// server said the stream's grants expired and [Options.Renew] failed: the
// session could not be renewed (it was revoked, or is too old to renew),
// and the user must sign in again. Err is what Renew returned.
type RenewError struct {
	Err error
}

func (e *RenewError) Error() string {
	return "eventsource: the stream's session expired and could not be renewed: " + e.Err.Error() +
		"; sign in again, then call Source.Reopen, which resumes after the last event ID"
}

func (e *RenewError) Unwrap() error { return e.Err }

// minRenewGap is how soon after a renewal another expiry counts as
// immediate. A server whose sessions expire as soon as they are renewed
// (a clock far off, a lifetime shorter than a round trip) would otherwise
// have every client renew and reopen in a tight loop: immediate expiries
// wait the reopen backoff before Renew runs again.
const minRenewGap = time.Second

// maxRetryAfter bounds how long a server's Retry-After may hold a reopen.
const maxRetryAfter = time.Hour

// parseRetryAfter parses a Retry-After header in seconds, the form servers
// send with 429 and 503 (ours does), into a wait of at most maxRetryAfter.
// It returns 0 for an empty or malformed value, and for the HTTP-date
// form, which would cost app.wasm time.Parse: the backoff applies then.
func parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	for _, c := range []byte(v) {
		if c < '0' || c > '9' {
			return 0
		}
		d = min(d*10+time.Duration(c-'0')*time.Second, maxRetryAfter)
	}
	return d
}

// delayAfter is the wait before reopen number attempt when the server
// asked for retryAfter (0: it did not): the policy's delay, or, if longer,
// retryAfter plus up to the policy's jitter of it (drawn with rnd), so that
// clients told the same Retry-After do not all come back in the same
// instant, and none comes back earlier than asked.
func (p ReopenPolicy) delayAfter(attempt int, rnd float64, retryAfter time.Duration) time.Duration {
	d := p.Delay(attempt, rnd)
	if retryAfter <= 0 {
		return d
	}
	return max(d, retryAfter+time.Duration(float64(retryAfter)*p.jitter()*rnd))
}

// Event is one event received from the stream, undecoded: the fields of
// the browser's MessageEvent. [Source.OnRaw] handlers receive it.
type Event struct {
	// Name is the event's name, its "event:" field; event.Unnamed
	// ("message") for an event without one.
	Name string
	// Data is the event's data, its "data:" lines joined with "\n".
	Data string
	// ID is the event's ID: its "id:" field or, for an event without one,
	// the last ID the stream set (the browser's lastEventId), which the
	// browser sends back as Last-Event-ID when it reconnects.
	ID string
	// Origin is the origin of the stream's final URL, such as
	// "https://example.com".
	Origin string
}

// SourceStats are the counters of a [Source].
type SourceStats struct {
	// Received counts the events delivered to the Source's listeners, once
	// each however many subscriptions got it. Heartbeats are not counted.
	Received uint64
	// Reconnects counts the times the stream opened again after its first
	// open: the browser's own reconnections and the Source's reopens.
	Reconnects uint64
	// Reopens counts the EventSources the Source created after the first:
	// after the browser gave up, when the watchdog fired, or by
	// [Source.Reopen]. Status probes are not counted.
	Reopens uint64
	// Renewals counts the sessions renewed by [Options.Renew] after the
	// server said the stream expired.
	Renewals uint64
	// LastEventID is the last event ID seen, which a reopen resumes from.
	LastEventID string
}

// parseGap decodes the data of a gap event; a gap whose data does not
// parse has the zero protocol.Gap (Reason "").
func parseGap(data string) protocol.Gap {
	var g protocol.Gap
	if err := json.Unmarshal([]byte(data), &g); err != nil {
		return protocol.Gap{}
	}
	return g
}

// parseTopics decodes the data of a revoked or expired event, whose
// protocol.Revoked and protocol.Expired are both {"topics":[...]}; data
// that does not parse gives no topics.
func parseTopics(data string) []string {
	var v protocol.Revoked
	if err := json.Unmarshal([]byte(data), &v); err != nil {
		return nil
	}
	return v.Topics
}

// DecodeError is what [OnEvent] passes to its error handler when an
// event's data does not decode into the handler's type.
type DecodeError struct {
	Name string // the event's name (event.Unnamed, "message", for unnamed events)
	ID   string // the event's ID, as in [Event]
	Data string // the raw data
	Err  error  // from event.Decode (wraps event.ErrDecode), or a recovered panic
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("eventsource: %q event (ID %q) does not decode; the server and this client disagree on its shared/event type: %v",
		e.Name, e.ID, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// decode decodes e's data into the payload p points to, and turns both a
// decode error and a panic in the type's decoder into a *DecodeError. It
// is the body of every OnEvent instantiation, kept out of the generic
// code so that each event type adds little to app.wasm.
func decode(e Event, p event.Named) (err *DecodeError) {
	defer func() {
		if r := recover(); r != nil {
			err = &DecodeError{Name: e.Name, ID: e.ID, Data: e.Data,
				Err: fmt.Errorf("%w: %s panicked: %v", event.ErrDecode, strings.TrimPrefix(fmt.Sprintf("%T", p), "*"), r)}
		}
	}()
	if err := event.DecodeInto(p, e.Data); err != nil {
		return &DecodeError{Name: e.Name, ID: e.ID, Data: e.Data, Err: err}
	}
	return nil
}

// OnEvent calls fn with each event of type T, decoded from its data with
// event.Decode, and the event's ID (see [Event]). It listens on T's SSE
// event name, or on event.Unnamed ("message") when T's EventName is "".
// An event that does not decode goes to onErr (which may be nil: such
// events are then dropped). fn and onErr must not block.
//
// OnEvent is a function, not a method, because Go methods cannot have
// type parameters.
func OnEvent[T any, PT interface {
	*T
	event.Named
}](s *Source, fn func(v T, id string), onErr func(*DecodeError)) *Subscription {
	_, name := event.NameOf[T, PT]()
	return onDecoded(s, name, func(v *T) event.Named { return PT(v) }, fn, onErr)
}

// onDecoded subscribes fn to the events named name, decoded into a T
// through the event.Named that named returns for a *T: the body of
// OnEvent and OnTopic.
func onDecoded[T any](s *Source, name string, named func(*T) event.Named, fn func(v T, id string), onErr func(*DecodeError)) *Subscription {
	mustHandler(fn == nil)
	return s.subscribe(name, func(e Event) {
		var v T
		if err := decode(e, named(&v)); err != nil {
			if onErr != nil {
				onErr(err)
			}
			return
		}
		fn(v, e.ID)
	})
}

// OnRaw calls fn with each event named name (its "event:" field;
// event.Unnamed, "message", for events without one), undecoded. fn must
// not block.
func (s *Source) OnRaw(name string, fn func(Event)) *Subscription {
	mustHandler(fn == nil)
	return s.subscribe(name, fn)
}

// OnGap calls fn for each gap event ([protocol.GapEvent]): the server
// could not replay the events after the ID the client sent
// (g.LastEventID), for g.Reason, and the app should reload its state. id
// is the gap event's own ID, the newest in the server's history, from
// which the stream resumes; "" when that history is empty. g is zero when
// the event's data does not parse. Live events follow. fn must not block.
func (s *Source) OnGap(fn func(g protocol.Gap, id string)) *Subscription {
	mustHandler(fn == nil)
	return s.subscribe(protocol.GapEvent, func(e Event) { fn(parseGap(e.Data), e.ID) })
}

// OnRevoked calls fn for each revoked event ([protocol.RevokedEvent]): the
// stream's identity lost its right to read r.Topics (a sign-out, a ban),
// which it no longer receives. The topics it may still read keep flowing
// on the same stream; a stream that lost every topic ends after the event,
// and the browser's reconnection is then refused (401 or 403), which puts
// the Source in [StateFailed]. r is zero when the data does not parse. fn
// must not block.
func (s *Source) OnRevoked(fn func(r protocol.Revoked)) *Subscription {
	mustHandler(fn == nil)
	return s.subscribe(protocol.RevokedEvent, func(e Event) { fn(protocol.Revoked{Topics: parseTopics(e.Data)}) })
}

// OnExpired calls fn for each expired event ([protocol.ExpiredEvent]): the
// stream's grants expired, on x.Topics, and the server ended the stream.
// The Source has already closed its EventSource; with [Options.Renew] it
// renews the session and resumes, without it it probes the status (see
// Options.Renew). x is zero when the data does not parse. fn must not
// block.
func (s *Source) OnExpired(fn func(x protocol.Expired)) *Subscription {
	mustHandler(fn == nil)
	return s.subscribe(protocol.ExpiredEvent, func(e Event) { fn(protocol.Expired{Topics: parseTopics(e.Data)}) })
}

// OnTopic is [OnEvent] for the events of a topic declared with package
// shared/topic: fn takes the topic's payload type, so that a handler of
// another type does not build. Events are told apart by their SSE event
// name, which T gives, not by topic: on a stream of two topics of one
// payload type (two users' inboxes), fn gets the events of both. Open the
// stream on the topic, with [TopicsURL].
func OnTopic[T event.Named](s *Source, t topic.Topic[T], fn func(v T, id string), onErr func(*DecodeError)) *Subscription {
	var v T
	name := v.EventName()
	if name == "" {
		name = event.Unnamed
	}
	// *T has T's methods, so it is an event.Named too.
	return onDecoded(s, name, func(v *T) event.Named { return any(v).(event.Named) }, fn, onErr)
}

// TopicsURL returns the URL of a stream of topics at path (such as
// "/events"): path?topic=a&topic=b, from the declarations, so that no
// topic name is written by hand (see topic.Query).
func TopicsURL(path string, topics ...topic.Ref) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + topic.Query(topics...)
}

// withParam returns rawURL with the query parameter name set to value, or
// rawURL unchanged if it does not parse.
func withParam(rawURL, name, value string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	q := u.Query()
	q.Set(name, value)
	u.RawQuery = q.Encode()
	return u.String()
}

func mustHandler(isNil bool) {
	if isNil {
		panic("eventsource: nil handler")
	}
}
