package topic_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ssewasm/ssewasm/shared/topic"
)

// The hostile keys a user can send: each must be refused by For, and
// every name built from it refused by the Set.
var hostileKeys = []struct{ name, key, why string }{
	{"empty", "", "0 bytes"},
	{"dotdot traversal", "alice/../bob", "'/' at byte 5"},
	{"sub-path", "alice/x", "'/' at byte 5"},
	{"upper case", "Alice", "it starts with 'A'"},
	{"upper case inside", "aLice", "'L' at byte 1"},
	{"NUL", "alice\x00", `'\x00' at byte 5`},
	{"NUL first", "\x00", `it starts with '\x00'`},
	{"percent-encoded slash", "alice%2Fbob", "'%' at byte 5"},
	{"percent-encoded dot", "%2e%2e", "it starts with '%'"},
	{"over-long", strings.Repeat("a", 33), "33 bytes"},
	{"dot", ".", "a path step"},
	{"dotdot", "..", "a path step"},
	{"space", "al ice", "' ' at byte 2"},
	{"non-ASCII", "alicé", `'\u00c3' at byte 4`},
	{"fullwidth solidus", "alice\uff0fbob", `'\u00ef' at byte 5`},
	{"CR LF", "alice\r\nevent: x", `'\r' at byte 5`},
	{"leading dash", "-alice", "it starts with '-'"},
	{"query", "alice?topic=x", "'?' at byte 5"},
}

// dotted allows dots, so that "." and ".." reach the path-step check.
var dotted = topic.NewKeySyntax("name", "a-z.", "a-z.", 8)

func TestForRefusesHostileKeys(t *testing.T) {
	for _, c := range hostileKeys {
		t.Run(c.name, func(t *testing.T) {
			f := Inbox
			if c.key == "." || c.key == ".." {
				f = topic.NewFamily[PrivateMessage]("dotted/", dotted, topic.Owner)
			}
			tp, err := f.For(c.key)
			if err == nil {
				t.Fatalf("For(%q) = %q, want an error", c.key, tp.Name())
			}
			if !errors.Is(err, topic.ErrInvalidKey) {
				t.Errorf("For(%q): %v does not wrap ErrInvalidKey", c.key, err)
			}
			if !strings.Contains(err.Error(), c.why) {
				t.Errorf("For(%q): %q does not say %q", c.key, err, c.why)
			}
			if tp.Name() != "" || tp.MayRead(c.key) {
				t.Errorf("For(%q) failed but returned a usable topic %q", c.key, tp.Name())
			}
		})
	}
}

func TestForAcceptsValidKeys(t *testing.T) {
	for _, key := range []string{"a", "alice", "0", "bob-2", "b_o_b", strings.Repeat("z", 32)} {
		tp, err := Inbox.For(key)
		if err != nil {
			t.Errorf("For(%q): %v", key, err)
			continue
		}
		if tp.Name() != "user/"+key || tp.Key() != key {
			t.Errorf("For(%q) = %q (key %q)", key, tp.Name(), tp.Key())
		}
		if !tp.MayRead(key) || tp.MayRead("") || tp.MayRead(key+"x") {
			t.Errorf("For(%q): Owner rule: the owner reads, nobody else", key)
		}
	}
}

func TestRules(t *testing.T) {
	cases := []struct {
		name         string
		rule         topic.Rule
		subject, key string
		want         bool
	}{
		{"public anonymous", topic.Public, "", "", true},
		{"public signed in", topic.Public, "alice", "", true},
		{"signed-in anonymous", topic.SignedIn, "", "", false},
		{"signed-in subject", topic.SignedIn, "alice", "", true},
		{"owner anonymous, empty key", topic.Owner, "", "", false},
		{"owner itself", topic.Owner, "alice", "alice", true},
		{"owner another", topic.Owner, "bob", "alice", false},
		{"owner case", topic.Owner, "Alice", "alice", false},
	}
	for _, c := range cases {
		if got := c.rule(c.subject, c.key); got != c.want {
			t.Errorf("%s: rule(%q, %q) = %v, want %v", c.name, c.subject, c.key, got, c.want)
		}
	}
}

// mustPanic returns the panic message of f, failing t if it returns.
func mustPanic(t *testing.T, f func()) (msg string) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil {
			t.Errorf("no panic")
		}
		switch r := r.(type) {
		case string:
			msg = r
		case error:
			msg = r.Error()
		}
	}()
	f()
	return ""
}

func TestDeclarationsPanic(t *testing.T) {
	cases := []struct {
		name, want string
		declare    func()
	}{
		{"empty name", "want 1 to 128 bytes", func() { topic.New[ChatMessage]("", topic.Public) }},
		{"space in name", "want 1 to 128 bytes", func() { topic.New[ChatMessage]("a b", topic.Public) }},
		{"percent in name", "want 1 to 128 bytes", func() { topic.New[ChatMessage]("a%2F", topic.Public) }},
		{"long name", "want 1 to 128 bytes", func() { topic.New[ChatMessage](strings.Repeat("a", 129), topic.Public) }},
		{"dotdot part", `parts must not be empty, "." or ".."`, func() { topic.New[ChatMessage]("a/../b", topic.Public) }},
		{"empty part", `parts must not be empty`, func() { topic.New[ChatMessage]("a//b", topic.Public) }},
		{"trailing slash", `parts must not be empty`, func() { topic.New[ChatMessage]("a/", topic.Public) }},
		{"nil rule", "nil rule", func() { topic.New[ChatMessage]("a", nil) }},
		{"prefix without slash", `ends with "/"`, func() { topic.NewFamily[ChatMessage]("user", UserName, topic.Owner) }},
		{"prefix alone", `parts must not be empty`, func() { topic.NewFamily[ChatMessage]("/", UserName, topic.Owner) }},
		{"zero syntax", "the key syntax is zero", func() { topic.NewFamily[ChatMessage]("user/", topic.KeySyntax{}, topic.Owner) }},
		{"names too long", "make names over 128 bytes", func() {
			topic.NewFamily[ChatMessage]("user/", topic.NewKeySyntax("n", "a", "a", 124), topic.Owner)
		}},
		{"family nil rule", "nil rule", func() { topic.NewFamily[ChatMessage]("user/", UserName, nil) }},
		{"slash in key set", `'/' is not allowed in a key`, func() { topic.NewKeySyntax("n", "a-z/", "a", 1) }},
		{"percent in key set", `'%' is not allowed in a key`, func() { topic.NewKeySyntax("n", "a", "%", 1) }},
		{"range over slash", `'/' is not allowed in a key`, func() { topic.NewKeySyntax("n", ".-0", "a", 1) }},
		{"backwards range", "backwards", func() { topic.NewKeySyntax("n", "z-a", "a", 1) }},
		{"empty set", "empty set", func() { topic.NewKeySyntax("n", "", "a", 1) }},
		{"zero max", "want at least 1", func() { topic.NewKeySyntax("n", "a", "a", 0) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if msg := mustPanic(t, c.declare); !strings.Contains(msg, c.want) {
				t.Errorf("panic %q does not say %q", msg, c.want)
			}
		})
	}
}

func TestKeySyntaxSets(t *testing.T) {
	k := topic.NewKeySyntax("code", "A-F", "0-9-", 4)
	for key, ok := range map[string]bool{"A": true, "F-9": true, "A---": true, "G": false, "a": false, "-A": false, "A0000": false, "A/": false} {
		if err := k.Check(key); (err == nil) != ok {
			t.Errorf("Check(%q) = %v, want ok %v", key, err, ok)
		}
	}
	if got, want := k.String(), "code: 1 to 4 bytes, the first of A-F, the others of 0-9-"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if err := (topic.KeySyntax{}).Check("a"); err == nil || !errors.Is(err, topic.ErrInvalidKey) {
		t.Errorf("the zero syntax accepted a key: %v", err)
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	in := ChatMessage{From: "alice", Text: "line\nbreak"}
	name, data, err := Room.Encode(in)
	if err != nil || name != "chat" {
		t.Fatalf("Encode = %q, %q, %v", name, data, err)
	}
	out, err := Room.Decode(data)
	if err != nil || out != in {
		t.Errorf("Decode(%q) = %+v, %v; want %+v", data, out, err, in)
	}
	if _, err := Room.Decode(`{"From":1}`); err == nil {
		t.Error("Decode of a wrong type succeeded")
	}
}

func TestNamesAndQuery(t *testing.T) {
	alice, _ := Inbox.For("alice")
	if got := topic.Names(Room, alice); strings.Join(got, ",") != "room,user/alice" {
		t.Errorf("Names = %q", got)
	}
	if got := topic.Query(); got != "" {
		t.Errorf("Query() = %q", got)
	}
	if got := topic.Query(alice); got != "topic=user/alice" {
		t.Errorf("Query(alice) = %q", got)
	}
}

func TestValid(t *testing.T) {
	for s, want := range map[string]bool{
		"room": true, "a-b_c.d:e/f@g~h": true, strings.Repeat("a", 128): true,
		"": false, strings.Repeat("a", 129): false, "a b": false, "a%2F": false, "a\x00": false, "é": false, "a,b": false,
	} {
		if got := topic.Valid(s); got != want {
			t.Errorf("Valid(%q) = %v, want %v", s, got, want)
		}
	}
}
