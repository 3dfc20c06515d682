package sse

import "errors"

// Errors returned by [Broker.Publish] and the engines, wrapped in an error
// that names the offending value. Test for them with errors.Is.
var (
	// ErrClosed: the broker (or engine) has been shut down.
	ErrClosed = errors.New("sse: broker is shut down")
	// ErrReservedEvent: the event name starts with [protocol.ReservedPrefix].
	ErrReservedEvent = errors.New("sse: reserved event name")
	// ErrEventTooLarge: the event's Data is longer than Options.MaxEventSize.
	ErrEventTooLarge = errors.New("sse: event too large")
	// ErrInvalidTopic: the topic is empty, too long or has a character
	// outside the allowed set (see [topic.Valid]).
	ErrInvalidTopic = errors.New("sse: invalid topic")
	// ErrIDAssigned: the published event has an ID; the broker assigns IDs.
	ErrIDAssigned = errors.New("sse: event ID must be empty")
)

// Reasons a stream ends or a request is refused, passed to [Hooks].
var (
	// ErrEvicted: the client read too slowly and fell more than
	// Options.MaxLag behind, and did not catch up within
	// Options.PublishWait, so its stream was ended. It resumes from
	// history when it reconnects with its Last-Event-ID.
	ErrEvicted = errors.New("sse: client evicted: it read too slowly and fell too far behind (Options.MaxLag)")
	// ErrTooManyClients: the broker serves Options.MaxClients streams.
	ErrTooManyClients = errors.New("sse: too many clients")
	// ErrTooManyClientsPerIP: the client's IP has Options.MaxClientsPerIP
	// streams open.
	ErrTooManyClientsPerIP = errors.New("sse: too many clients from this IP")
	// ErrBadRequest is wrapped by the reason of a request refused with
	// 400 Bad Request.
	ErrBadRequest = errors.New("sse: bad request")
)

// StatusError lets Options.Authorize and Options.Identify choose the
// HTTP status of a refused request, such as 401 Unauthorized; any other
// error answers 403 Forbidden (Authorize) or 401 (Identify). The
// response body is Err's message.
type StatusError struct {
	Code int   // an HTTP status code, 400 to 599
	Err  error // the reason, sent as the response body
}

func (e *StatusError) Error() string { return e.Err.Error() }
func (e *StatusError) Unwrap() error { return e.Err }

// statusOf returns the HTTP status of a hook's error: its StatusError's,
// or def.
func statusOf(err error, def int) int {
	var se *StatusError
	if errors.As(err, &se) && se.Code >= 400 && se.Code <= 599 {
		return se.Code
	}
	return def
}
