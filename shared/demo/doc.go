// Package demo holds the demo app's events and topics, which the server
// binary and the wasm frontend both compile: for each event, its SSE
// event name and payload type; for each topic, its name, its payload
// type and who may read it. A change here breaks the build of both
// binaries, not production.
//
// The classic page (/) reads GET /stream, a stream made for each client:
// one [ConnectTime], then a [Ping] a second, as plain text. The /live page
// reads the topics [StatsTopic] ([ServerStats], JSON) and [BoardTopic]
// ([BoardMessage], plain text).
//
// The server publishes on a topic with the topic's own type:
//
//	id, err := sse.PublishTo(ctx, broker, demo.BoardTopic, demo.BoardMessage{Text: "hi"})
//
// and the browser decodes it with the same type:
//
//	appstream.OnEvent(func(ctx app.Context, m demo.BoardMessage, id string) { ... })
//
// The mechanism (how a payload names its event and travels as text or
// JSON) is package [github.com/ssewasm/ssewasm/shared/event]; topic
// declarations are package [github.com/ssewasm/ssewasm/shared/topic].
// Like every package under shared/, it uses the standard library and
// shared/ only, so the wasm binary links nothing else through it.
package demo
