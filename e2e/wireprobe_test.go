package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// wireProbe is raw wire input that no ssewasm server writes, read by
// every interop client to show where it disagrees with the spec
// (html.spec.whatwg.org, "Interpreting an event stream"). Each probe is
// followed on the wire by a marker event, "data: end <n>", whose last
// event ID shows what the probe left behind.
type wireProbe struct {
	name   string
	wire   string
	spec   []received // what the spec dispatches, before the marker
	lastID string     // the last event ID after the probe, per the spec
	// known pins a client's disagreement: what it dispatches instead.
	// A client that changes (even to follow the spec) fails the test,
	// so that docs/interop.md is updated with it.
	known map[string][]received
}

// wireProbeNames are the event names the probes use.
var wireProbeNames = []string{"x"}

// wireProbes, in order: the BOM only counts at the start of the stream,
// and each probe leaves the last event ID as the next one expects.
var wireProbes = []wireProbe{
	{name: "BOM at the start of the stream is skipped", wire: "\ufeffdata: bom\n\n",
		spec:  []received{{Event: "message", Data: "bom"}},
		known: map[string][]received{"launchdarkly": {{Event: "message"}}}},
	{name: "NUL in data is kept", wire: "data: a\x00b\n\n",
		spec:  []received{{Event: "message", Data: "a\x00b"}},
		known: map[string][]received{"firefox": {{Event: "message", Data: "ab"}}}},
	{name: "block without data is not dispatched (event)", wire: "event: x\n\n",
		known: map[string][]received{"gosse": {{Event: "x"}}, "launchdarkly": {{Event: "x"}}}},
	{name: "block without data is not dispatched (retry)", wire: "retry: 3000\n\n",
		known: map[string][]received{"gosse": {{Event: "message"}}, "launchdarkly": {{Event: "message"}}}},
	{name: "unknown field is ignored", wire: "Data: x\n\n",
		known: map[string][]received{"launchdarkly": {{Event: "message"}}}},
	{name: "id with NUL is ignored", wire: "id: 5\ndata: a\n\nid: 8\x00\ndata: b\n\n", lastID: "5",
		spec: []received{{Event: "message", Data: "a", ID: "5"}, {Event: "message", Data: "b", ID: "5"}},
		known: map[string][]received{
			"firefox": {{Event: "message", Data: "a", ID: "5"}},                                                                      // drops the event
			"node":    {{Event: "message", Data: "a", ID: "5"}, {Event: "message", Data: "b"}, {Event: "message", Data: markerData}}, // resets the ID
		}},
	{name: "empty id resets the last ID", wire: "id\ndata: b\n\n",
		spec: []received{{Event: "message", Data: "b"}}},
	{name: "bare CR ends lines", wire: "data: a\rdata: b\r\r",
		spec: []received{{Event: "message", Data: "a\nb"}}},
	{name: "only one space after the colon is dropped", wire: "data:  b\n\n",
		spec: []received{{Event: "message", Data: " b"}}},
	{name: "field without a colon", wire: "data\n\n",
		spec: []received{{Event: "message"}}},
	{name: "event name lasts one block", wire: "event: x\ndata: a\n\ndata: b\n\n",
		spec: []received{{Event: "x", Data: "a"}, {Event: "message", Data: "b"}}},
	// Last, since two clients lose the ID: the spec sets the last event
	// ID before it checks for data.
	{name: "block without data is not dispatched (id), but its ID is kept", wire: "id: 7\n\n", lastID: "7",
		known: map[string][]received{
			"gosse":        {{Event: "message", ID: "7"}},
			"launchdarkly": {{Event: "message", ID: "7"}},
			"firefox":      {{Event: "message", Data: markerData}}, // the marker, without the ID
			"node":         {{Event: "message", Data: markerData}},
		}},
}

// markerData in a pinned disagreement stands for the marker's data: the
// marker arrived, but not as the spec has it.
const markerData = "<marker>"

func wireMarker(i int, lastID string) received {
	return received{Event: "message", Data: fmt.Sprintf("end %d", i), ID: lastID}
}

// startWireServer serves the probes, then holds the stream open, to any
// origin, until the test ends.
func startWireServer(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for i, p := range wireProbes {
		fmt.Fprintf(&b, "%sdata: end %d\n\n", p.wire, i)
	}
	stream := b.String()
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Cache-Control", "no-store")
		if r.URL.Path != "/wire" {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusNotFound)
			return
		}
		fmt.Fprint(w, stream)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) }) // first: let the streams end
	return srv.URL + "/wire"
}

// runWireProbes reads the probe stream with one client and returns a
// cell per probe.
func runWireProbes(t *testing.T, client, name string, read func(*collector, string), wireURL string) map[string]string {
	col := newCollector()
	read(col, wireURL)
	last := fmt.Sprintf("end %d", len(wireProbes)-1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := col.wait(ctx, func(c *collector) bool {
		for _, e := range c.events {
			if e.Data == last {
				return true
			}
		}
		return false
	})
	got, _, errs := col.snapshot()
	if err != nil {
		t.Errorf("%s did not read the probe stream to its end: %v; got %d events, errors %q", name, err, len(got), errs)
	}
	cells := map[string]string{}
	for i, p := range wireProbes {
		marker := wireMarker(i, p.lastID)
		var block []received // up to and without the marker
		for len(got) > 0 && got[0].Data != marker.Data {
			block, got = append(block, got[0]), got[1:]
		}
		if len(got) == 0 {
			cells[p.name] = "stream ended early"
			t.Errorf("%s, %s: %s", name, p.name, cells[p.name])
			continue
		}
		if got[0] != marker { // what the probe left behind differs
			block = append(block, got[0])
		}
		got = got[1:]
		known, pinned := p.known[client]
		known = append([]received(nil), known...) // the table is shared
		for i, e := range known {
			if e.Data == markerData {
				known[i].Data = marker.Data
			}
		}
		switch {
		case fmt.Sprint(block) == fmt.Sprint(p.spec):
			cells[p.name] = "ok"
			if pinned {
				t.Errorf("%s, %s: now follows the spec; drop its pinned disagreement and update docs/interop.md", name, p.name)
			}
		case pinned && fmt.Sprint(block) == fmt.Sprint(known):
			cells[p.name] = "differs: " + describeEvents(block)
		default:
			cells[p.name] = "differs: " + describeEvents(block)
			t.Errorf("%s, %s: dispatched %s, spec %s (pinned: %v)", name, p.name, describeEvents(block), describeEvents(p.spec), pinned)
		}
	}
	return cells
}

// describeEvents writes events as `name "data" #id`, or "nothing".
func describeEvents(es []received) string {
	if len(es) == 0 {
		return "nothing"
	}
	var parts []string
	for _, e := range es {
		parts = append(parts, fmt.Sprintf("%s %q #%q", e.Event, e.Data, e.ID))
	}
	return strings.Join(parts, ", ")
}
