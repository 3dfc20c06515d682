package demo

import (
	"fmt"
	"time"
)

// TimeLayout is how the classic demo's events write times: plain text, like
// the Node demo's `data: <date>` lines, but in a form that parses back.
const TimeLayout = time.RFC3339

// ConnectTime is sent once, as the named event "connecttime", right after a
// client connects to the classic demo stream. Its data is the server's time.
type ConnectTime struct {
	Time time.Time
}

// EventName returns "connecttime".
func (ConnectTime) EventName() string { return "connecttime" }

// MarshalText writes the time in TimeLayout.
func (c ConnectTime) MarshalText() ([]byte, error) { return marshalTime(c.Time) }

// UnmarshalText parses a time written in TimeLayout.
func (c *ConnectTime) UnmarshalText(b []byte) error { return unmarshalTime(&c.Time, b) }

// Ping is sent every second on the classic demo stream as an unnamed event
// (the browser's "message" event). Its data is the server's time.
type Ping struct {
	Time time.Time
}

// EventName returns "": pings are unnamed events.
func (Ping) EventName() string { return "" }

// MarshalText writes the time in TimeLayout.
func (p Ping) MarshalText() ([]byte, error) { return marshalTime(p.Time) }

// UnmarshalText parses a time written in TimeLayout.
func (p *Ping) UnmarshalText(b []byte) error { return unmarshalTime(&p.Time, b) }

func marshalTime(t time.Time) ([]byte, error) {
	return t.AppendFormat(nil, TimeLayout), nil
}

func unmarshalTime(t *time.Time, b []byte) error {
	v, err := time.Parse(TimeLayout, string(b))
	if err != nil {
		return fmt.Errorf("want a time like %q: %w", TimeLayout, err)
	}
	*t = v
	return nil
}
