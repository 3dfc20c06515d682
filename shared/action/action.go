// Package action declares typed actions: a request the browser sends to
// the server and the result it gets back, both Go types in code that both
// binaries compile. The server serves an action with server/actions, the
// wasm client calls it with wasm/call:
//
//	// shared, compiled by both binaries:
//	var SendPrivate = action.New[SendPrivateReq, Receipt]("send-private", 4<<10)
//
//	// server:
//	actions.Handle(reg, SendPrivate, func(ctx context.Context, who sse.Identity, req SendPrivateReq) (Receipt, error) {
//		if req.To == "" {
//			return Receipt{}, action.BadRequest("say whom the message is for")
//		}
//		...
//	})
//
//	// browser:
//	receipt, err := call.Do(ctx, SendPrivate, SendPrivateReq{To: "bob", Text: "hi"})
//	if e, ok := errors.AsType[*action.Error](err); ok && e.Code == action.CodeRateLimited { ... }
//
// On the wire an action is POST [PathPrefix]+name with a JSON body of at
// most MaxBytes bytes; the answer is 200 with the result in JSON, or an
// error status with the JSON of an [Error]:
//
//	{"error":{"code":"forbidden","message":"you may only write as yourself"}}
//
// The package uses the standard library only, so the wasm binary links
// nothing else for it.
package action

import "strconv"

// PathPrefix starts the URL path of every action: an action named
// "send-private" is served at /action/send-private.
const PathPrefix = "/action/"

// ContentType is the media type of requests and answers.
const ContentType = "application/json"

// MaxNameLen is the longest action name, in bytes.
const MaxNameLen = 64

// Action is a request of type Req answered by a result of type Res.
// Declare it once, in a package both binaries import, with [New].
type Action[Req, Res any] struct {
	name     string
	maxBytes int
}

// New declares the action name, whose request body is at most maxBytes
// bytes of JSON. The name is 1 to [MaxNameLen] bytes: a lowercase ASCII
// letter, then lowercase letters, digits, "-" and "_", so that it is a
// URL path segment as it is. New panics on an invalid name or maxBytes
// below 1: actions are package-level variables, and a bad one is a bug
// to fix before the program runs.
func New[Req, Res any](name string, maxBytes int) Action[Req, Res] {
	mustDeclare(name, maxBytes)
	return Action[Req, Res]{name: name, maxBytes: maxBytes}
}

// mustDeclare panics as New says. Each instantiation of a generic function
// adds its own copy of the code to the wasm binary: New keeps its body to
// this call.
func mustDeclare(name string, maxBytes int) {
	if !ValidName(name) {
		panic("action: New(" + strconv.Quote(name) + "): a name is 1 to " + strconv.Itoa(MaxNameLen) +
			" bytes: a lowercase ASCII letter, then lowercase letters, digits, - and _")
	}
	if maxBytes < 1 {
		panic("action: New(" + strconv.Quote(name) + "): maxBytes is " + strconv.Itoa(maxBytes) + ", want at least 1")
	}
}

// Name returns the action's name.
func (a Action[Req, Res]) Name() string { return a.name }

// MaxBytes returns the largest request body the server reads, in bytes:
// a larger one is refused with 413, against a client that sends
// megabytes to make the server buffer and parse them.
func (a Action[Req, Res]) MaxBytes() int { return a.maxBytes }

// Path returns the URL path of the action: [PathPrefix] + name.
func (a Action[Req, Res]) Path() string { return PathPrefix + a.name }

// ValidName reports whether name can name an action (see [New]).
func ValidName(name string) bool {
	if name == "" || len(name) > MaxNameLen || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
