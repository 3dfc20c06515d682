package topic

import "errors"

// Declaration is a [Topic] or a [Family], as a [Set] holds it.
type Declaration interface {
	declaration() decl
}

// decl is what a Set keeps of a declaration.
type decl struct {
	name   string // the topic's name, or the family's prefix
	key    string // a topic's family key
	rule   Rule
	keys   KeySyntax // a family's
	family bool
}

// Set is every topic and family an app declares; the server decides
// access with it. Make it with [NewSet]. It is read-only, and safe for
// concurrent use.
type Set struct {
	topics   map[string]decl // by name
	families map[string]decl // by prefix
}

// NewSet returns the set of decls. It is an error to declare a name
// twice, a family prefix twice, or a topic whose name is also a name of a
// family.
func NewSet(decls ...Declaration) (*Set, error) {
	s := &Set{topics: make(map[string]decl), families: make(map[string]decl)}
	for _, d := range decls {
		d := d.declaration()
		switch {
		case d.rule == nil:
			return nil, errors.New("topic: NewSet: a zero Topic or Family: declare it with New or NewFamily")
		case d.family:
			if _, dup := s.families[d.name]; dup {
				return nil, errors.New("topic: NewSet: the family " + quote(d.name) + " is declared twice")
			}
			s.families[d.name] = d
		default:
			if _, dup := s.topics[d.name]; dup {
				return nil, errors.New("topic: NewSet: the topic " + quote(d.name) + " is declared twice")
			}
			s.topics[d.name] = d
		}
	}
	// Family prefixes end with "/" and keys hold none, so two families
	// never share a name; a topic may be one of a family's names.
	for name := range s.topics {
		if f, key, ok := s.family(name); ok && f.keys.match(key) {
			return nil, errors.New("topic: NewSet: the topic " + quote(name) + " is also a name of the family " + quote(f.name))
		}
	}
	return s, nil
}

// MayRead reports whether name is declared (a topic, or a name in a
// family's namespace), and if so whether subject ("" = anonymous) may
// read it. A name in a family's namespace whose key does not match the
// family's syntax ("user/Alice", "user/alice/../bob", "user/") is
// declared, and nobody may read it: [Set.Check] says why. What to do with
// an undeclared name is the caller's choice.
func (s *Set) MayRead(subject, name string) (declared, ok bool) {
	if d, found := s.topics[name]; found {
		return true, d.rule(subject, d.key)
	}
	f, key, found := s.family(name)
	if !found {
		return false, false
	}
	return true, f.keys.match(key) && f.rule(subject, key)
}

// Check returns nil for a declared topic, a name of a family, or an
// undeclared name outside every family's namespace, and an error wrapping
// [ErrInvalidKey] that says what is wrong for a name in a family's
// namespace that does not match its syntax: the server answers it with
// 400 Bad Request.
func (s *Set) Check(name string) error {
	if _, found := s.topics[name]; found {
		return nil
	}
	f, key, found := s.family(name)
	if !found {
		return nil
	}
	return f.keys.Check(key)
}

// family returns the family whose namespace holds name, and the rest of
// name after its prefix. With families "user/" and "user/x/", the
// namespace of "user/x/" holds "user/x/k", and the namespace of "user/"
// every other name that starts with "user/": the longest prefix wins.
func (s *Set) family(name string) (f decl, key string, ok bool) {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] != '/' {
			continue
		}
		if f, ok := s.families[name[:i+1]]; ok {
			return f, name[i+1:], true
		}
	}
	return decl{}, "", false
}
