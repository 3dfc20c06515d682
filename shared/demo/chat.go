package demo

import (
	"github.com/ssewasm/ssewasm/shared/action"
	"github.com/ssewasm/ssewasm/shared/topic"
)

// The /chat page: signed-in users talk in a public room and send each
// other private messages. Each declaration below is compiled by both
// binaries: the server decides access and checks payload types with it,
// the browser builds its stream URL and decodes events with it.

// UserNames is the syntax of a user name: what POST /login accepts, and
// the key of a user's private topic. Lower case only, so "Alice" and
// "alice" can never be two users, nor one user's topic be reached by
// another spelling.
var UserNames = topic.NewKeySyntax("user name", "a-z0-9", "a-z0-9_-", 32)

var (
	// Room is the public room: every signed-in user reads it.
	Room = topic.New[ChatMessage]("room", topic.SignedIn)
	// Inbox is every user's private topic, "user/<name>": only that user
	// reads it (every tab of every session of theirs). Only the server
	// writes to it: users send through the SendPrivate action, and
	// backends through POST /publish with the publish token.
	Inbox = topic.NewFamily[PrivateMessage]("user/", UserNames, topic.Owner)
)

// ChatMessage is a message said in the Room. It travels as JSON.
type ChatMessage struct {
	From string `json:"from"` // the signed-in user who said it, set by the server
	Text string `json:"text"`
	At   int64  `json:"at"` // the server's time, Unix milliseconds
}

// EventName returns "chat".
func (ChatMessage) EventName() string { return "chat" }

// PrivateMessage is a message in a user's Inbox: sent to them, or sent by
// them (From is then that user, so their other tabs see what they sent).
// It travels as JSON.
type PrivateMessage struct {
	From string `json:"from"` // the signed-in sender, set by the server
	To   string `json:"to"`
	Text string `json:"text"`
	At   int64  `json:"at"` // the server's time, Unix milliseconds
}

// EventName returns "private".
func (PrivateMessage) EventName() string { return "private" }

// MaxChatText is the longest text of a chat or private message, in bytes.
const MaxChatText = 2000

// The typed actions of the demo: POST /action/<name> with a JSON body;
// see shared/action.
var (
	// Say says Text in the Room, as the signed-in user.
	Say = action.New[SayReq, Sent]("say", 4<<10)
	// SendPrivate sends Text to the user To's Inbox (and a copy to the
	// sender's, for their other tabs), as the signed-in user.
	SendPrivate = action.New[SendPrivateReq, Sent]("send-private", 4<<10)
	// PostBoard posts Text on the /live page's board. Anyone may post,
	// signed in or not, within the server's rate limits.
	PostBoard = action.New[PostBoardReq, Sent]("post-board", 4<<10)
)

// SayReq is the request of Say.
type SayReq struct {
	Text string `json:"text"`
}

// SendPrivateReq is the request of SendPrivate.
type SendPrivateReq struct {
	To   string `json:"to"`
	Text string `json:"text"`
}

// PostBoardReq is the request of PostBoard.
type PostBoardReq struct {
	Text string `json:"text"`
}

// Sent is the result of an action that published an event: its ID.
type Sent struct {
	ID string `json:"id"`
}

// Session is what GET /session answers, and POST /login and
// POST /session/renew on success: who the session's user is and until
// when its grants last. Subject is "" when nobody is signed in.
type Session struct {
	Subject string `json:"subject"`
	Expires int64  `json:"expires,omitempty"` // Unix milliseconds; 0 when not signed in
}
