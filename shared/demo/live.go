package demo

import "github.com/ssewasm/ssewasm/shared/topic"

// The /live page's topics (GET /events?topic=stats&topic=board). Anyone
// may read them.
var (
	// StatsTopic carries the server's figures, once a second, for the
	// page's chart.
	StatsTopic = topic.New[ServerStats]("stats", topic.Public)
	// BoardTopic carries the messages of the page's broadcast board.
	BoardTopic = topic.New[BoardMessage]("board", topic.Public)
)

// ServerStats is the server's figures, published once a second on
// StatsTopic and drawn by the /live page's chart. It travels as JSON.
type ServerStats struct {
	// At is the server's time, in Unix milliseconds.
	At int64 `json:"at"`
	// Clients is the number of open event streams.
	Clients int `json:"clients"`
	// EventsPerSecond is how many events the server delivered to clients
	// in the last second.
	EventsPerSecond float64 `json:"eventsPerSecond"`
	// MemoryBytes is the memory the Go runtime holds from the OS.
	MemoryBytes uint64 `json:"memoryBytes"`
	// Goroutines is the number of goroutines.
	Goroutines int `json:"goroutines"`
}

// EventName returns "stats".
func (ServerStats) EventName() string { return "stats" }

// BoardMessage is a message of the /live page's broadcast board, published
// on BoardTopic with POST /publish?topic=board&event=board. It is plain
// text, shown as text, never as HTML.
type BoardMessage struct {
	Text string
}

// EventName returns "board".
func (BoardMessage) EventName() string { return "board" }

// MarshalText returns the text as is.
func (m BoardMessage) MarshalText() ([]byte, error) { return []byte(m.Text), nil }

// UnmarshalText takes the data as the text.
func (m *BoardMessage) UnmarshalText(b []byte) error {
	m.Text = string(b)
	return nil
}
