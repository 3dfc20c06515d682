package sse

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/shared/protocol"
)

func TestMemoryEngine(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	m := NewMemoryEngine(MemoryOptions{HistorySize: 4, HistoryAge: time.Minute, Epoch: "e1", Now: clock.Now})
	var delivered []string
	cancel, err := m.Subscribe(func(msg *Message) { delivered = append(delivered, msg.ID) })
	if err != nil {
		t.Fatal(err)
	}
	for i := range 11 { // the ring wraps more than twice
		topic := []string{"a", "b"}[i%2]
		msg, err := m.Publish(ctx, topic, Event{Name: "n", Data: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("id: e1-%d\nevent: n\ndata: %d\n\n", i+1, i)
		if nm, err := NewMessage(topic, "e1", uint64(i+1), Event{Name: "n", Data: fmt.Sprint(i)}); err != nil || string(nm.Frame) != string(msg.Frame) || nm.ID != msg.ID {
			t.Fatalf("NewMessage disagrees with the engine: %q, %v", nm.Frame, err)
		}
		if msg.ID != protocol.FormatID("e1", uint64(i+1)) || msg.Seq != uint64(i+1) || string(msg.Frame) != want || msg.Topic != topic {
			t.Fatalf("message %d: %+v %q", i, msg, msg.Frame)
		}
	}
	if len(delivered) != 11 || delivered[10] != "e1-11" {
		t.Errorf("delivered %v", delivered)
	}

	// History holds e1-8..e1-11; from e1-7 on, nothing is missing.
	r, err := m.Replay(ctx, []string{"a", "b"}, "e1-7")
	if err != nil || r.Gap != "" || r.Through != 11 || r.Head != "e1-11" || len(r.Messages) != 4 || r.Messages[0].ID != "e1-8" {
		t.Errorf("Replay from e1-7 = %+v, %v", r, err)
	}
	r, _ = m.Replay(ctx, []string{"b"}, "e1-9")
	if len(r.Messages) != 1 || r.Messages[0].ID != "e1-10" {
		t.Errorf("Replay b from e1-9 = %+v", r)
	}
	r, _ = m.Replay(ctx, []string{"a"}, "e1-6")
	if r.Gap != protocol.GapExpired || len(r.Messages) != 0 || r.Head != "e1-11" {
		t.Errorf("Replay from e1-6 = %+v, want expired", r)
	}

	// Age: the retry field comes before the id.
	clock.Advance(30 * time.Second)
	msg, _ := m.Publish(ctx, "a", Event{Data: "r", Retry: time.Second})
	if string(msg.Frame) != "retry: 1000\nid: e1-12\ndata: r\n\n" {
		t.Errorf("frame with retry %q", msg.Frame)
	}
	clock.Advance(31 * time.Second) // e1-9..11 are now older than a minute
	if r, _ = m.Replay(ctx, []string{"a"}, "e1-10"); r.Gap != protocol.GapExpired {
		t.Errorf("after a minute: %+v, want expired", r)
	}
	if r, _ = m.Replay(ctx, []string{"a"}, "e1-11"); r.Gap != "" || len(r.Messages) != 1 {
		t.Errorf("the young one: %+v", r)
	}

	cancel()
	cancel() // idempotent
	m.Publish(ctx, "a", Event{})
	if len(delivered) != 12 {
		t.Errorf("delivered after cancel: %d", len(delivered))
	}
	m.Close()
	if _, err := m.Publish(ctx, "a", Event{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
	if _, err := m.Subscribe(func(*Message) {}); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe after Close: %v", err)
	}
}

func TestMemoryEngineEpochs(t *testing.T) {
	a, b := NewMemoryEngine(MemoryOptions{}), NewMemoryEngine(MemoryOptions{})
	if a.Epoch() == b.Epoch() || !protocol.ValidEpoch(a.Epoch()) || len(a.Epoch()) != 8 {
		t.Errorf("epochs %q and %q: want two different random ones", a.Epoch(), b.Epoch())
	}
	for _, opts := range []MemoryOptions{{HistorySize: -1}, {HistoryAge: -1}, {Epoch: "a-b"}} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.HasPrefix(fmt.Sprint(r), "sse: MemoryOptions.") {
					t.Errorf("NewMemoryEngine(%+v) panicked with %v", opts, r)
				}
			}()
			NewMemoryEngine(opts)
		}()
	}
}

// TestMemoryHistoryBytes: a flood of the largest events, and of bodies of
// line feeds (each a data line on the wire), keeps the history's frames
// under HistoryBytes; the newest stay replayable.
func TestMemoryHistoryBytes(t *testing.T) {
	const limit = 1 << 20
	m := NewMemoryEngine(MemoryOptions{HistoryBytes: limit})
	ctx := context.Background()
	for _, data := range []string{strings.Repeat("x", 64<<10), strings.Repeat("\n", 16<<10)} {
		var last *Message
		for range 200 {
			msg, err := m.Publish(ctx, "a", Event{Data: data})
			if err != nil {
				t.Fatal(err)
			}
			last = msg
			if b := m.HistoryBytes(); b > limit {
				t.Fatalf("history holds %d bytes, over %d", b, limit)
			}
		}
		r, err := m.Replay(ctx, []string{"a"}, protocol.FormatID(m.Epoch(), last.Seq-3))
		if err != nil || r.Gap != "" || len(r.Messages) != 3 {
			t.Errorf("replay of the newest: %v, gap %q, %d messages", err, r.Gap, len(r.Messages))
		}
		// The oldest were dropped for their bytes: a gap.
		if r, _ := m.Replay(ctx, []string{"a"}, protocol.FormatID(m.Epoch(), last.Seq-190)); r.Gap == "" {
			t.Error("an event dropped for bytes was replayed")
		}
		t.Logf("200 events of %d bytes of data (%d on the wire): history %d bytes", len(data), len(last.Frame), m.HistoryBytes())
	}
	// One event larger than the bound is kept alone.
	big, _ := m.Publish(ctx, "a", Event{Data: strings.Repeat("x", 2*limit)})
	if r, _ := m.Replay(ctx, []string{"a"}, protocol.FormatID(m.Epoch(), big.Seq-1)); len(r.Messages) != 1 {
		t.Errorf("an event over the bound: %d replayed, want it alone", len(r.Messages))
	}
}

// TestMemoryKeepsNoCallerStrings: the history keeps its own copy of a
// topic (and key), never the caller's larger string it was cut from,
// such as a request's query: 64 events whose topics and keys are cut
// from 256 KiB strings hold far less than the 32 MiB they came from.
func TestMemoryKeepsNoCallerStrings(t *testing.T) {
	m := NewMemoryEngine(MemoryOptions{})
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	const events = 64
	ctx := context.Background()
	before := heap()
	for i := range events {
		query := fmt.Sprintf("topic=t%d&pad=%s", i%2, strings.Repeat("x", 256<<10)) // a new string each time
		keyed := fmt.Sprintf("%d %s", i, strings.Repeat("k", 256<<10))
		if _, _, err := m.PublishOnce(ctx, query[len("topic="):len("topic=t0")], keyed[:strings.IndexByte(keyed, ' ')], Event{Data: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	grown := int64(heap()) - int64(before)
	t.Logf("%d events with topics and keys cut from 512 KiB: heap +%d KiB", events, grown>>10)
	if sent := int64(events * 512 << 10); grown > sent/10 {
		t.Errorf("heap grew by %d bytes for %d events: the history keeps the callers' strings (%d bytes)", grown, events, sent)
	}
	runtime.KeepAlive(m)
}
