// Package topic declares an app's topics once, in code that both the
// server and the browser compile: each topic's name, the payload type of
// its events and who may read it. A topic family (every user's inbox,
// "user/alice", "user/bob", ...) is declared once too, with the syntax of
// its keys, so that a name built from user input can never leave its
// family.
//
//	var (
//		Room  = topic.New[ChatMessage]("room", topic.SignedIn)
//		Names = topic.NewKeySyntax("user name", "a-z0-9", "a-z0-9_-", 32)
//		Inbox = topic.NewFamily[PrivateMessage]("user/", Names, topic.Owner)
//	)
//
//	inbox, err := Inbox.For(name) // "user/" + name, or an error for "alice/../bob", "Alice", ""
//	data, err := inbox.Encode(PrivateMessage{...}) // a ChatMessage does not build
//
// The payload type travels with the declaration: [Topic.Encode] and
// [Topic.Decode] take and return exactly T, so a generic publish or
// subscribe helper built on them (func Publish[T event.Named](t
// topic.Topic[T], v T)) does not build with the wrong type.
//
// The server decides access with a [Set] of the declarations:
//
//	set, err := topic.NewSet(Room, Inbox)
//	declared, ok := set.MayRead(subject, "user/alice") // true, subject == "alice"
//
// And the browser builds its stream URL from them, without hand-written
// names: "/events?" + topic.Query(Room, inbox).
//
// Names use the broker's topic syntax (1 to [MaxLen] bytes of ASCII
// letters, digits and "-_.:/@~"), which needs no escaping in a URL. The
// package uses the standard library, shared/event and shared/protocol
// only, so the wasm binary links little of it.
package topic

import (
	"errors"
	"strconv"
	"strings"

	"github.com/ssewasm/ssewasm/shared/event"
	"github.com/ssewasm/ssewasm/shared/protocol"
)

// MaxLen is the longest topic name, in bytes. The broker (server/sse)
// checks topics with Valid and MaxLen: a declared topic is always one
// it accepts.
const MaxLen = 128

// Rule decides whether the reader named subject ("" = anonymous) may read
// a topic; key is the topic's family key ("alice" of "user/alice"), ""
// for a topic declared alone. A Rule must be fast and must not block: the
// broker runs it when a stream opens and again when an identity changes.
type Rule func(subject, key string) bool

// The common rules.
var (
	// Public lets anyone read, signed in or not.
	Public Rule = func(subject, key string) bool { return true }
	// SignedIn lets any signed-in subject read.
	SignedIn Rule = func(subject, key string) bool { return subject != "" }
	// Owner lets a subject read its own topic of a family: the subject
	// equals the key ("alice" reads "user/alice").
	Owner Rule = func(subject, key string) bool { return subject != "" && subject == key }
)

// ErrInvalidKey is wrapped by the error of a family key, or a name in a
// family's namespace, that does not match the family's [KeySyntax].
var ErrInvalidKey = errors.New("topic: invalid key")

// Topic is one topic whose events are T. Declare it with [New], or get it
// from a [Family] with [Family.For]. The zero Topic has no name.
type Topic[T event.Named] struct {
	name string
	key  string
	rule Rule
}

// New declares the topic name, whose events are T, read by whom rule
// allows. It panics on an invalid name or a nil rule: declarations are
// package-level variables, and a bad one is a bug to fix before the
// program runs. A valid name is 1 to [MaxLen] bytes of ASCII letters,
// digits and "-_.:/@~", whose "/"-separated parts are neither empty nor
// "." nor "..".
func New[T event.Named](name string, rule Rule) Topic[T] {
	mustDeclare(name, rule)
	return Topic[T]{name: name, rule: rule}
}

// mustDeclare panics as New says. Each instantiation of a generic function
// adds its own copy of the code to the wasm binary: New and NewFamily keep
// their bodies to a call.
func mustDeclare(name string, rule Rule) {
	if err := checkName(name, false); err != nil {
		panic(err)
	}
	if rule == nil {
		panic("topic: New(" + strconv.Quote(name) + "): nil rule")
	}
}

// Name returns the topic's name, as the broker and the stream URL know it.
func (t Topic[T]) Name() string { return t.name }

// Key returns the topic's family key, "" for a topic declared alone.
func (t Topic[T]) Key() string { return t.key }

// MayRead reports whether subject ("" = anonymous) may read the topic.
// The zero Topic lets nobody read.
func (t Topic[T]) MayRead(subject string) bool {
	return t.rule != nil && t.rule(subject, t.key)
}

// Encode returns the SSE event name and data of v, an event of this topic
// (see [event.Encode]).
func (t Topic[T]) Encode(v T) (name, data string, err error) {
	return event.Encode(v)
}

// Decode parses the data of an event of this topic (see [event.Decode]).
func (t Topic[T]) Decode(data string) (T, error) {
	var v T
	// *T has T's methods, so it is an event.Named too.
	err := event.DecodeInto(any(&v).(event.Named), data)
	return v, err
}

// declaration implements Declaration.
func (t Topic[T]) declaration() decl {
	return decl{name: t.name, rule: t.rule, key: t.key}
}

// Family is the topics prefix+key whose events are T, such as every
// user's inbox, "user/" + a user name. Declare it with [NewFamily].
type Family[T event.Named] struct {
	prefix string
	keys   KeySyntax
	rule   Rule
}

// NewFamily declares the family of topics prefix+key, for every key of
// the syntax keys, whose events are T, read by whom rule allows (rule gets
// the key). The prefix must end with "/": keys never hold a "/", so a key
// can never reach into another family. It panics on an invalid prefix, a
// zero syntax, a syntax whose longest key makes a name over [MaxLen], or
// a nil rule.
func NewFamily[T event.Named](prefix string, keys KeySyntax, rule Rule) Family[T] {
	mustDeclareFamily(prefix, keys, rule)
	return Family[T]{prefix: prefix, keys: keys, rule: rule}
}

// mustDeclareFamily panics as NewFamily says.
func mustDeclareFamily(prefix string, keys KeySyntax, rule Rule) {
	if err := checkName(prefix, true); err != nil {
		panic(err)
	}
	if keys.max == 0 {
		panic("topic: NewFamily(" + strconv.Quote(prefix) + "): the key syntax is zero: make it with NewKeySyntax")
	}
	if len(prefix)+keys.max > MaxLen {
		panic("topic: NewFamily(" + strconv.Quote(prefix) + "): keys of " + strconv.Itoa(keys.max) +
			" bytes make names over " + strconv.Itoa(MaxLen) + " bytes")
	}
	if rule == nil {
		panic("topic: NewFamily(" + strconv.Quote(prefix) + "): nil rule")
	}
}

// For returns the family's topic for key, or an error wrapping
// [ErrInvalidKey] that says what is wrong when key does not match the
// family's syntax exactly: no "/", no "%", no case the syntax does not
// allow, not empty, not too long. Keys come from users: a name such as
// "alice/../bob" is refused, never cleaned up.
func (f Family[T]) For(key string) (Topic[T], error) {
	if err := f.keys.Check(key); err != nil {
		return Topic[T]{}, err
	}
	return Topic[T]{name: f.prefix + key, key: key, rule: f.rule}, nil
}

// Prefix returns the family's prefix, such as "user/".
func (f Family[T]) Prefix() string { return f.prefix }

// Keys returns the syntax of the family's keys.
func (f Family[T]) Keys() KeySyntax { return f.keys }

// declaration implements Declaration.
func (f Family[T]) declaration() decl {
	return decl{name: f.prefix, rule: f.rule, keys: f.keys, family: true}
}

// Ref is anything with a topic name: every [Topic], whatever its payload
// type.
type Ref interface{ Name() string }

// Names returns the names of topics, in order, for a stream request.
func Names(topics ...Ref) []string {
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = t.Name()
	}
	return names
}

// Query returns the query of a stream request for topics, without the
// "?": "topic=room&topic=user/alice". Topic names need no escaping in a
// query.
func Query(topics ...Ref) string {
	var b strings.Builder
	for i, t := range topics {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(protocol.TopicParam)
		b.WriteByte('=')
		b.WriteString(t.Name())
	}
	return b.String()
}

// Valid reports whether s can name a topic on the broker: 1 to [MaxLen]
// bytes of ASCII letters, digits and "-_.:/@~".
func Valid(s string) bool {
	if s == "" || len(s) > MaxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !nameChars.has(s[i]) {
			return false
		}
	}
	return true
}

// checkName checks a declared name, or a family's prefix: a valid topic
// name, without empty, "." or ".." parts; a prefix ends with "/".
func checkName(name string, prefix bool) error {
	what := "topic name"
	if prefix {
		what = "family prefix"
	}
	bad := func(why string) error {
		return errors.New("topic: " + what + " " + quote(name) + ": " + why)
	}
	if !Valid(name) {
		return bad("want 1 to " + strconv.Itoa(MaxLen) + " bytes of ASCII letters, digits and -_.:/@~")
	}
	if prefix {
		if !strings.HasSuffix(name, "/") {
			return bad("a family prefix ends with \"/\", such as \"user/\"")
		}
		name = name[:len(name)-1]
	}
	for part := range strings.SplitSeq(name, "/") {
		if part == "" || part == "." || part == ".." {
			return bad("its \"/\"-separated parts must not be empty, \".\" or \"..\"")
		}
	}
	return nil
}

// quote quotes s for an error message, cut to 40 bytes.
func quote(s string) string {
	if len(s) > 40 {
		return strconv.Quote(s[:40]) + "…"
	}
	return strconv.Quote(s)
}
