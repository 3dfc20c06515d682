package sse

import (
	"context"
	"fmt"

	"github.com/ssewasm/ssewasm/shared/event"
	"github.com/ssewasm/ssewasm/shared/topic"
)

// PublishTo publishes v on the topic t declares (see package
// shared/topic), as [Broker.Publish] does, and returns its ID. v travels
// as the client's typed OnEvent decodes it: its event name is
// v.EventName(), its data its text or JSON form ([event.Encode]). The
// payload type is the topic's, so a value of another type does not
// build:
//
//	var Board = topic.New[BoardMessage]("board", topic.Public) // shared by both binaries
//
//	id, err := sse.PublishTo(ctx, b, Board, BoardMessage{Text: "hi"})
//
// PublishTo is a function, not a method, because Go methods cannot have
// type parameters. The zero Topic is refused with [ErrInvalidTopic]: it
// would publish on Options.DefaultTopic.
func PublishTo[T event.Named](ctx context.Context, b *Broker, t topic.Topic[T], v T) (id string, err error) {
	e, err := topicEvent(t.Name(), v)
	if err != nil {
		return "", err
	}
	return b.Publish(ctx, t.Name(), e)
}

// PublishLocalTo is [PublishTo] for this broker's own clients only, as
// [Broker.PublishLocal] does: not stored, not replayed, not shared with
// other instances.
func PublishLocalTo[T event.Named](b *Broker, t topic.Topic[T], v T) error {
	e, err := topicEvent(t.Name(), v)
	if err != nil {
		return err
	}
	return b.PublishLocal(t.Name(), e)
}

// topicEvent encodes v for the topic name. It is the body of every
// PublishTo instantiation, kept out of the generic code.
func topicEvent(name string, v event.Named) (Event, error) {
	if name == "" {
		return Event{}, fmt.Errorf("%w: the zero topic.Topic, which names none; declare the topic with topic.New", ErrInvalidTopic)
	}
	return eventOf(v)
}

// SendValue writes v as one event and flushes it: its event name is
// v.EventName(), its data v's text or JSON form ([event.Encode]), as the
// client's typed OnEvent decodes it. It is [Stream.Send] for the events
// of a stream of your own, which no topic carries:
//
//	err := s.SendValue(Ping{Time: now})
func (s *Stream) SendValue(v event.Named) error {
	e, err := eventOf(v)
	if err != nil {
		return err
	}
	return s.Send(e)
}

// eventOf encodes v as an Event.
func eventOf(v event.Named) (Event, error) {
	name, data, err := event.Encode(v)
	if err != nil {
		return Event{}, fmt.Errorf("sse: %w", err)
	}
	return Event{Name: name, Data: data}, nil
}
