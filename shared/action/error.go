package action

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// The codes of an [Error]: what went wrong, for code to switch on. The
// server's refusals use them with their usual status; handlers may use
// any code (a short lowercase word or two, joined by "_").
const (
	CodeBadRequest       = "bad_request"            // 400: the request is malformed or invalid
	CodeUnauthorized     = "unauthorized"           // 401: sign in first, or again
	CodeForbidden        = "forbidden"              // 403: signed in, but not allowed; or a cross-site request
	CodeNotFound         = "not_found"              // 404: no such action, or no such thing
	CodeMethodNotAllowed = "method_not_allowed"     // 405: actions are POST
	CodeConflict         = "conflict"               // 409: the state changed; reload and retry
	CodeTooLarge         = "too_large"              // 413: the body is over the action's MaxBytes
	CodeUnsupportedType  = "unsupported_media_type" // 415: the body is not application/json
	CodeRateLimited      = "rate_limited"           // 429: too many actions; retry after RetryAfter
	CodeInternal         = "internal"               // 500: the server failed; the message says no more
	CodeUnavailable      = "unavailable"            // 503: the server cannot serve it now
)

// Error is the error answer of an action: an HTTP status, a [Code...]
// code and a message for people. Handlers return it to choose their
// answer; the client returns it for every error answer.
//
// Its JSON form, the body of the answer, is
// {"error":{"code":"…","message":"…"}}; the status and RetryAfter travel
// in the HTTP status line and the Retry-After header.
type Error struct {
	Status  int    // the HTTP status, 400 to 599
	Code    string // one of the Code constants, or the handler's own
	Message string // what went wrong, and what to do, for people
	// RetryAfter is how long to wait before retrying (the Retry-After
	// header, in whole seconds on the wire); 0 when the answer has none.
	RetryAfter time.Duration
}

// Error returns "action: <code> (<status>): <message>".
func (e *Error) Error() string {
	s := "action: " + e.Code + " (" + strconv.Itoa(e.Status) + ")"
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is reports whether target is an *Error with the same Code, so that
// errors.Is(err, &action.Error{Code: action.CodeForbidden}) holds for any
// forbidden answer.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// BadRequest returns a 400 error: the request is malformed or invalid.
func BadRequest(message string) *Error { return &Error{400, CodeBadRequest, message, 0} }

// Unauthorized returns a 401 error: sign in first, or again.
func Unauthorized(message string) *Error { return &Error{401, CodeUnauthorized, message, 0} }

// Forbidden returns a 403 error: the caller may not do this.
func Forbidden(message string) *Error { return &Error{403, CodeForbidden, message, 0} }

// NotFound returns a 404 error: no such action, or no such thing.
func NotFound(message string) *Error { return &Error{404, CodeNotFound, message, 0} }

// MethodNotAllowed returns a 405 error: actions are POST.
func MethodNotAllowed(message string) *Error { return &Error{405, CodeMethodNotAllowed, message, 0} }

// Conflict returns a 409 error: the state changed; reload and retry.
func Conflict(message string) *Error { return &Error{409, CodeConflict, message, 0} }

// TooLarge returns a 413 error: the request is over its size.
func TooLarge(message string) *Error { return &Error{413, CodeTooLarge, message, 0} }

// UnsupportedType returns a 415 error: the body is not application/json.
func UnsupportedType(message string) *Error { return &Error{415, CodeUnsupportedType, message, 0} }

// RateLimited returns a 429 error that says to retry after wait.
func RateLimited(message string, wait time.Duration) *Error {
	return &Error{429, CodeRateLimited, message, wait}
}

// Internal returns a 500 error. Its message goes to the client: say
// nothing there that the client must not know.
func Internal(message string) *Error { return &Error{500, CodeInternal, message, 0} }

// Unavailable returns a 503 error: the server cannot serve it now.
func Unavailable(message string) *Error { return &Error{503, CodeUnavailable, message, 0} }

// wireError is the JSON form of an Error.
type wireError struct {
	Error *wireBody `json:"error"`
}

type wireBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// MarshalJSON returns {"error":{"code":"…","message":"…"}}.
func (e *Error) MarshalJSON() ([]byte, error) {
	return json.Marshal(wireError{&wireBody{Code: e.Code, Message: e.Message}})
}

// ErrNotAnError is wrapped by ParseError's errors: the answer is not the
// JSON of an Error.
var ErrNotAnError = errors.New("action: the answer is not an action error")

// MaxErrorBytes bounds the error answer ParseError reads: an error's
// code and message are short, and a larger answer is not one.
const MaxErrorBytes = 16 << 10

// ParseError reads the error answer of an action: status is the HTTP
// status (400 to 599), body the JSON {"error":{"code":"…","message":"…"}}
// with a non-empty code, and retryAfter the Retry-After header ("" when
// there is none; whole seconds, as the server writes it). Unknown fields
// are ignored, so that servers may add some. An answer that is not of
// that form gives an error wrapping [ErrNotAnError].
func ParseError(status int, body []byte, retryAfter string) (*Error, error) {
	if status < 400 || status > 599 {
		return nil, notAnError("status " + strconv.Itoa(status) + " is not an error")
	}
	if len(body) > MaxErrorBytes {
		return nil, notAnError(strconv.Itoa(len(body)) + " bytes, over " + strconv.Itoa(MaxErrorBytes))
	}
	// json.Unmarshal refuses data after the value, as it should; a
	// json.Decoder would add 8 KB of code to app.wasm.
	var w wireError
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, notAnError(err.Error())
	}
	if w.Error == nil || w.Error.Code == "" {
		return nil, notAnError(`no "error" object with a "code"`)
	}
	e := &Error{Status: status, Code: w.Error.Code, Message: w.Error.Message}
	if s, err := strconv.ParseUint(retryAfter, 10, 32); err == nil {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e, nil
}

func notAnError(why string) error {
	return fmt.Errorf("%w: %s", ErrNotAnError, why)
}
