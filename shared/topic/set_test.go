package topic_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ssewasm/ssewasm/shared/topic"
)

func TestSetMayRead(t *testing.T) {
	admin := topic.New[ChatMessage]("user/admin/stats", topic.Public) // not a key of user/: no overlap
	teams := topic.NewFamily[ChatMessage]("user/team/", UserName, topic.SignedIn)
	set, err := topic.NewSet(Room, Inbox, admin, teams)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		subject, name string
		declared, ok  bool
		bad           bool // Check refuses the name
	}{
		{"alice", "room", true, true, false},
		{"", "room", true, false, false},
		{"alice", "user/alice", true, true, false},
		{"bob", "user/alice", true, false, false},
		{"", "user/alice", true, false, false},
		{"", "user/admin/stats", true, true, false},
		{"bob", "user/team/red", true, true, false},
		{"", "user/team/red", true, false, false},
		{"alice", "news", false, false, false},
		{"alice", "users/alice", false, false, false},
		// Hostile names in a family's namespace: declared, nobody reads.
		{"bob", "user/alice/../bob", true, false, true},
		{"alice", "user/alice/../alice", true, false, true},
		{"alice", "user/Alice", true, false, true},
		{"Alice", "user/Alice", true, false, true},
		{"", "user/", true, false, true},
		{"alice", "user/alice/x", true, false, true},
		{"alice", "user/alice%2Fx", true, false, true},
		{"alice\x00", "user/alice\x00", true, false, true},
		{"bob", "user/team/red/../../bob", true, false, true},
		{"..", "user/..", true, false, true},
	}
	for _, c := range cases {
		declared, ok := set.MayRead(c.subject, c.name)
		if declared != c.declared || ok != c.ok {
			t.Errorf("MayRead(%q, %q) = %v, %v; want %v, %v", c.subject, c.name, declared, ok, c.declared, c.ok)
		}
		err := set.Check(c.name)
		if (err != nil) != c.bad {
			t.Errorf("Check(%q) = %v, want an error: %v", c.name, err, c.bad)
		}
		if err != nil && !errors.Is(err, topic.ErrInvalidKey) {
			t.Errorf("Check(%q) = %v, does not wrap ErrInvalidKey", c.name, err)
		}
	}
}

func TestNewSetErrors(t *testing.T) {
	cases := []struct {
		name  string
		decls []topic.Declaration
		want  string
	}{
		{"topic twice", []topic.Declaration{Room, topic.New[PrivateMessage]("room", topic.Public)}, `the topic "room" is declared twice`},
		{"family twice", []topic.Declaration{Inbox, topic.NewFamily[ChatMessage]("user/", UserName, topic.Public)}, `the family "user/" is declared twice`},
		{"topic in a family", []topic.Declaration{Inbox, topic.New[ChatMessage]("user/alice", topic.Public)}, `"user/alice" is also a name of the family "user/"`},
		{"zero topic", []topic.Declaration{topic.Topic[ChatMessage]{}}, "a zero Topic or Family"},
		{"zero family", []topic.Declaration{topic.Family[ChatMessage]{}}, "a zero Topic or Family"},
	}
	for _, c := range cases {
		_, err := topic.NewSet(c.decls...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: NewSet error %v, want %q", c.name, err, c.want)
		}
	}
	if s, err := topic.NewSet(); err != nil || s == nil {
		t.Errorf("NewSet() = %v, %v", s, err)
	}
}

// FuzzFor checks that a key For accepts makes a valid name in the
// family's namespace that the Set attributes to that key, and that no
// accepted key holds what could leave the family.
func FuzzFor(f *testing.F) {
	for _, c := range hostileKeys {
		f.Add(c.key)
	}
	f.Add("alice")
	f.Add("a-b_c")
	set, err := topic.NewSet(Room, Inbox)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, key string) {
		tp, err := Inbox.For(key)
		if err != nil {
			if !errors.Is(err, topic.ErrInvalidKey) {
				t.Fatalf("For(%q): %v does not wrap ErrInvalidKey", key, err)
			}
			if declared, ok := set.MayRead(key, "user/"+key); ok || !declared {
				t.Fatalf("the set lets %q read %q, whose key For refuses", key, "user/"+key)
			}
			return
		}
		if tp.Name() != "user/"+key || !topic.Valid(tp.Name()) {
			t.Fatalf("For(%q) = %q", key, tp.Name())
		}
		if strings.ContainsAny(key, "/%.\x00") || key != strings.ToLower(key) || key == "" || len(key) > 32 {
			t.Fatalf("For accepted %q", key)
		}
		if declared, ok := set.MayRead(key, tp.Name()); !declared || !ok {
			t.Fatalf("MayRead(%q, %q) = %v, %v", key, tp.Name(), declared, ok)
		}
	})
}

// FuzzSet checks that any name is either refused by Check or read only by
// those the rules allow, and that a name in a family's namespace is
// readable only through a key For accepts.
func FuzzSet(f *testing.F) {
	for _, c := range hostileKeys {
		f.Add("alice", "user/"+c.key)
	}
	f.Add("alice", "user/alice")
	f.Add("", "room")
	f.Add("bob", "user//bob")
	set, err := topic.NewSet(Room, Inbox)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, subject, name string) {
		declared, ok := set.MayRead(subject, name)
		checkErr := set.Check(name)
		if ok && (!declared || checkErr != nil) {
			t.Fatalf("MayRead(%q, %q) = %v, %v with Check %v", subject, name, declared, ok, checkErr)
		}
		if key, found := strings.CutPrefix(name, "user/"); found {
			if !declared {
				t.Fatalf("%q is in user/ but not declared", name)
			}
			_, forErr := Inbox.For(key)
			if (checkErr == nil) != (forErr == nil) {
				t.Fatalf("Check(%q) = %v but For(%q) = %v", name, checkErr, key, forErr)
			}
			if ok && (subject != key || forErr != nil) {
				t.Fatalf("%q may read %q", subject, name)
			}
		}
	})
}
