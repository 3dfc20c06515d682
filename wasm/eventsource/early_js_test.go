//go:build js && wasm

package eventsource_test

import (
	"fmt"
	"strings"
	"syscall/js"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/wasm/eventsource"
)

// runEarlyScript runs EarlyScript's script for stream, as the page's head
// would, and closes whatever it left open when the test ends.
func runEarlyScript(t *testing.T, stream string) {
	t.Helper()
	page := js.Global().Get("location").Get("pathname").String()
	script := eventsource.EarlyScript(page, stream, "greet")
	body, ok := strings.CutPrefix(script, "<script>")
	body, ok2 := strings.CutSuffix(body, "</script>")
	if !ok || !ok2 {
		t.Fatalf("EarlyScript returned no <script> element: %.80q", script)
	}
	jsFunc(body).Invoke()
	t.Cleanup(func() {
		jsFunc(`const reg = globalThis.ssewasmEarlyStreams || {};
for (const k of Object.keys(reg)) { reg[k].es.close(); delete reg[k]; }`).Invoke()
	})
}

// earlyPending reports whether an early stream for url waits in the page.
func earlyPending(url string) bool {
	return jsFunc(`return !!(globalThis.ssewasmEarlyStreams || {})[url];`, "url").Invoke(url).Bool()
}

// TestOpenAdoptsEarlyStream: Open takes over the stream the page's script
// opened before it, on the same connection (the server sees one), and
// its handlers receive what arrived before Open and then the live events,
// in order, each once.
func TestOpenAdoptsEarlyStream(t *testing.T) {
	u, key := streamURL(t)
	runEarlyScript(t, u)
	if !earlyPending(u) {
		t.Fatalf("the script left no early stream for %s", u)
	}
	// Let the greeting, the plain event and a few ticks arrive first.
	waitStats(t, key, func(st streamStats) bool { return st.Connects == 1 })
	time.Sleep(200 * time.Millisecond)

	src := open(t, u, eventsource.Options{})
	opened, greets, msgs := recordStream(src)
	if earlyPending(u) {
		t.Errorf("the early stream still waits after Open took it")
	}

	if got := opened.next(t, "open event"); got != eventsource.StateOpen {
		t.Errorf("ReadyState() in OnOpen = %v, want %v", got, eventsource.StateOpen)
	}
	if g := greets.next(t, "greet event"); g.Data != "hello\nworld" || g.ID != "1" {
		t.Errorf("greet event %+v", g)
	}
	if m := msgs.next(t, "plain event"); m.Data != "plain" || m.ID != "2" {
		t.Errorf("first message %+v, want plain", m)
	}
	// Ticks kept before Open, then live ones: none lost, none twice.
	for i := range 20 {
		want := fmt.Sprintf("tick %d", i)
		if m := msgs.next(t, want); m.Data != want {
			t.Fatalf("got %q, want %q", m.Data, want)
		}
	}
	if st := fetchStats(t, key); st.Connects != 1 {
		t.Errorf("the server saw %d connections, want 1 (the early stream, taken over)", st.Connects)
	}
}

// TestOpenLeavesOtherEarlyStreams: Open of another URL, or with
// credentials, opens its own EventSource and leaves the early stream
// alone.
func TestOpenLeavesOtherEarlyStreams(t *testing.T) {
	u, key := streamURL(t)
	runEarlyScript(t, u)
	other, _ := streamURL(t, "x", "1") // the same stats key: the test's
	src := open(t, other, eventsource.Options{})
	msgs := newRecorder[eventsource.Event]()
	src.OnRaw("message", msgs.add)
	msgs.next(t, "message on the other URL")
	if !earlyPending(u) {
		t.Errorf("Open(%s) took the early stream of %s", other, u)
	}
	waitStats(t, key, func(st streamStats) bool { return st.Connects == 2 })
	// A credentialed Open finds the early stream in the other mode: it
	// closes it and opens its own.
	open(t, u, eventsource.Options{WithCredentials: true})
	if earlyPending(u) {
		t.Errorf("an early stream of another credentials mode still waits")
	}
	waitStats(t, key, func(st streamStats) bool { return st.Connects == 3 && st.Disconnects == 1 })
}
