package topic_test

import (
	"fmt"

	"github.com/ssewasm/ssewasm/shared/topic"
)

// ChatMessage is a message in the public room.
type ChatMessage struct {
	From, Text string
}

func (ChatMessage) EventName() string { return "chat" }

// PrivateMessage is a message to one user.
type PrivateMessage struct {
	From, Text string
}

func (PrivateMessage) EventName() string { return "private" }

// The declarations both binaries compile: a room any signed-in user reads,
// and each user's inbox, which only its owner reads.
var (
	Room     = topic.New[ChatMessage]("room", topic.SignedIn)
	UserName = topic.NewKeySyntax("user name", "a-z0-9", "a-z0-9_-", 32)
	Inbox    = topic.NewFamily[PrivateMessage]("user/", UserName, topic.Owner)
)

func Example() {
	inbox, err := Inbox.For("alice")
	if err != nil {
		panic(err)
	}
	fmt.Println(inbox.Name(), "read by alice:", inbox.MayRead("alice"), "by bob:", inbox.MayRead("bob"))

	// The payload type is the topic's: inbox.Encode(ChatMessage{}) does not build.
	name, data, _ := inbox.Encode(PrivateMessage{From: "bob", Text: "hi"})
	fmt.Println(name, data)
	m, _ := inbox.Decode(data)
	fmt.Println(m.From, m.Text)

	// Keys from users are checked, never cleaned up.
	for _, key := range []string{"alice/../bob", "Alice", ""} {
		_, err := Inbox.For(key)
		fmt.Println(err)
	}

	// The stream URL, from the declarations.
	fmt.Println("/events?" + topic.Query(Room, inbox))

	// The server decides access with the set of declarations.
	set, _ := topic.NewSet(Room, Inbox)
	for _, c := range []struct{ subject, name string }{
		{"alice", "user/alice"}, {"bob", "user/alice"}, {"", "room"}, {"bob", "room"}, {"alice", "user/Alice"}, {"bob", "news"},
	} {
		declared, ok := set.MayRead(c.subject, c.name)
		fmt.Printf("%q reads %q: declared %v, allowed %v\n", c.subject, c.name, declared, ok)
	}
	// Output:
	// user/alice read by alice: true by bob: false
	// private {"From":"bob","Text":"hi"}
	// bob hi
	// topic: invalid key "alice/../bob": '/' at byte 5; a user name is 1 to 32 bytes, the first of a-z0-9, the others of a-z0-9_-
	// topic: invalid key "Alice": it starts with 'A'; a user name is 1 to 32 bytes, the first of a-z0-9, the others of a-z0-9_-
	// topic: invalid key "": 0 bytes; a user name is 1 to 32 bytes, the first of a-z0-9, the others of a-z0-9_-
	// /events?topic=room&topic=user/alice
	// "alice" reads "user/alice": declared true, allowed true
	// "bob" reads "user/alice": declared true, allowed false
	// "" reads "room": declared true, allowed false
	// "bob" reads "room": declared true, allowed true
	// "alice" reads "user/Alice": declared true, allowed false
	// "bob" reads "news": declared false, allowed false
}
