package topic

import (
	"fmt"
	"strconv"
)

// KeySyntax is the syntax of a family's keys: 1 to a maximum of bytes,
// the first from one set of ASCII characters, the others from another.
// Make it with [NewKeySyntax]; the zero KeySyntax accepts nothing.
//
// The sets are small on purpose: a key comes from a user, and a topic
// name travels in URLs, logs and engine subjects, so a key can never hold
// "/" (it would reach into other topics), "%" (it would decode into
// something else) or any character outside the topic syntax.
type KeySyntax struct {
	what        string  // what a key is, for messages: "user name"
	first, rest charSet // the allowed bytes
	spec        string  // the sets as declared, for messages
	max         int
}

// NewKeySyntax returns the syntax of keys of 1 to max bytes whose first
// byte is in the set first and the others in the set rest. A set lists
// characters and ranges, as in a regular expression's brackets:
// "a-z0-9_-" (a "-" first or last stands for itself). Only letters,
// digits and "-_.:@~" may be in a set. what names a key in error messages
// ("user name"). It panics on an invalid set or max below 1: syntaxes are
// declared in package-level variables.
//
//	names := topic.NewKeySyntax("user name", "a-z0-9", "a-z0-9_-", 32) // ^[a-z0-9][a-z0-9_-]{0,31}$
func NewKeySyntax(what, first, rest string, max int) KeySyntax {
	f, err := parseSet(first)
	if err == nil {
		var r charSet
		r, err = parseSet(rest)
		if err == nil && max >= 1 {
			return KeySyntax{what: what, first: f, rest: r, max: max,
				spec: "the first of " + first + ", the others of " + rest}
		}
	}
	if err == nil {
		err = fmt.Errorf("max is %d, want at least 1", max)
	}
	panic(fmt.Sprintf("topic: NewKeySyntax(%q, %q, %q, %d): %v", what, first, rest, max, err))
}

// Check returns nil when key matches the syntax, or an error wrapping
// [ErrInvalidKey] that says what is wrong.
func (k KeySyntax) Check(key string) error {
	if k.match(key) {
		return nil
	}
	return k.why(key)
}

// match reports whether key matches the syntax; it allocates nothing,
// for the server's checks of names from users.
func (k KeySyntax) match(key string) bool {
	if key == "" || len(key) > k.max || key == "." || key == ".." || !k.first.has(key[0]) {
		return false
	}
	for i := 1; i < len(key); i++ {
		if !k.rest.has(key[i]) {
			return false
		}
	}
	return true
}

// why returns the error of a key that does not match.
func (k KeySyntax) why(key string) error {
	if k.max == 0 {
		return fmt.Errorf("%w: the key syntax is zero", ErrInvalidKey)
	}
	if key == "" || len(key) > k.max {
		return k.invalid(key, strconv.Itoa(len(key))+" bytes")
	}
	if key == "." || key == ".." {
		return k.invalid(key, "a path step")
	}
	if !k.first.has(key[0]) {
		return k.invalid(key, "it starts with "+strconv.QuoteRune(rune(key[0])))
	}
	for i := 1; i < len(key); i++ {
		if !k.rest.has(key[i]) {
			return k.invalid(key, strconv.QuoteRuneToASCII(rune(key[i]))+" at byte "+strconv.Itoa(i))
		}
	}
	return nil // not reached: match refused key
}

func (k KeySyntax) invalid(key, why string) error {
	return fmt.Errorf("%w %s: %s; a %s is 1 to %d bytes, %s", ErrInvalidKey, quote(key), why, k.what, k.max, k.spec)
}

// Max returns the longest key, in bytes.
func (k KeySyntax) Max() int { return k.max }

// String describes the syntax: "user name: 1 to 32 bytes, the first of
// a-z0-9, the others of a-z0-9_-".
func (k KeySyntax) String() string {
	return k.what + ": 1 to " + strconv.Itoa(k.max) + " bytes, " + k.spec
}

// charSet is a set of ASCII bytes, one bit each.
type charSet [2]uint64

func (s *charSet) add(c byte)     { s[c>>6] |= 1 << (c & 63) }
func (s charSet) has(c byte) bool { return c < 128 && s[c>>6]&(1<<(c&63)) != 0 }

// nameChars are the bytes of a topic name.
var nameChars = func() charSet {
	s, _ := parseSet("a-zA-Z0-9") // the ranges; "/" is not allowed in a key set
	for _, c := range []byte("-_.:/@~") {
		s.add(c)
	}
	return s
}()

// keyChars are the bytes a key set may hold: a name's, but "/".
const keyChars = "letters, digits and -_.:@~"

// parseSet parses a set such as "a-z0-9_-".
func parseSet(spec string) (charSet, error) {
	var s charSet
	if spec == "" {
		return s, fmt.Errorf("empty set")
	}
	for i := 0; i < len(spec); i++ {
		lo, hi := spec[i], spec[i]
		if i+2 < len(spec) && spec[i+1] == '-' {
			hi = spec[i+2]
			i += 2
			if lo > hi {
				return s, fmt.Errorf("range %c-%c is backwards", lo, hi)
			}
		}
		for c := int(lo); c <= int(hi); c++ {
			if !keyChar(byte(c)) {
				return s, fmt.Errorf("%q is not allowed in a key: a set holds %s", rune(c), keyChars)
			}
			s.add(byte(c))
		}
	}
	return s, nil
}

func keyChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '_', '.', ':', '@', '~':
		return true
	}
	return false
}
