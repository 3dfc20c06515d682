package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ssewasm/ssewasm/server/sse"
)

// interopBodies are published through POST /publish; each must arrive
// equal in Chromium's own EventSource and in our decoder, with every line
// end as LF and every other byte unchanged.
var interopBodies = []struct {
	name, body string
}{
	{"plain", "hello"},
	{"LF", "one\ntwo"},
	{"CR", "one\rtwo"},
	{"CRLF", "one\r\ntwo\r\nthree"},
	{"empty lines", "\n\nmiddle\n\n"},
	{"colon lines", ":not a comment\n: neither\ndata: nor a field"},
	{"non-ASCII", "ünïcödé ✓ 日本語 🚀"},
	{"spaces", "  leading and trailing  "},
	{"field-like", "event: evil\nid: 666\nretry: 1"},
	{"empty", ""},
}

func lfOnly(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// TestPublishInterop publishes awkward data and compares what Chromium's
// native EventSource and our decoder receive.
func TestPublishInterop(t *testing.T) {
	dir := buildApp(t)
	srv := startServer(t, dir, "127.0.0.1:0")
	ctx := newBrowser(t)

	// A same-origin page, then a native EventSource collecting events.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"healthz")); err != nil {
		t.Fatal(err)
	}
	if _, err := within(t, ctx, 10*time.Second, chromedp.Evaluate[bool](`
		window.got = []; window.opened = false;
		const es = new EventSource("/events?topic=interop");
		es.onopen = () => { window.opened = true; };
		es.addEventListener("check", e => window.got.push({data: e.data, id: e.lastEventId}));
		true`)); err != nil {
		t.Fatal(err)
	}
	if _, err := within(t, ctx, 10*time.Second, chromedp.Poll[bool](`window.opened`)); err != nil {
		t.Fatalf("the browser's EventSource did not open: %v", err)
	}

	// Our decoder on the same topic.
	rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(rctx, "GET", srv.URL+"events?topic=interop", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()

	var ids []string
	for _, b := range interopBodies {
		r, err := http.Post(srv.URL+"publish?topic=interop&event=check", "text/plain", strings.NewReader(b.body))
		if err != nil {
			t.Fatal(err)
		}
		var answer struct{ ID string }
		json.NewDecoder(r.Body).Decode(&answer)
		r.Body.Close()
		if r.StatusCode != 200 || answer.ID == "" {
			t.Fatalf("publish %s: status %d id %q", b.name, r.StatusCode, answer.ID)
		}
		ids = append(ids, answer.ID)
	}

	d := sse.NewDecoder(resp.Body)
	for i, b := range interopBodies {
		e, err := d.Next()
		if err != nil {
			t.Fatalf("our decoder, event %d: %v", i, err)
		}
		if e.Data != lfOnly(b.body) || e.ID != ids[i] || e.Event != "check" {
			t.Errorf("our decoder, %s: got %q id %q, want %q id %q", b.name, e.Data, e.ID, lfOnly(b.body), ids[i])
		}
	}

	type got struct{ Data, ID string }
	all, err := within(t, ctx, 15*time.Second, chromedp.Poll[[]got](
		fmt.Sprintf(`window.got.length >= %d ? window.got : null`, len(interopBodies))))
	if err != nil {
		t.Fatalf("Chromium did not receive every event: %v", err)
	}
	if len(all) != len(interopBodies) {
		t.Fatalf("Chromium received %d events, want %d", len(all), len(interopBodies))
	}
	for i, b := range interopBodies {
		if all[i].Data != lfOnly(b.body) || all[i].ID != ids[i] {
			t.Errorf("Chromium, %s: got %q id %q, want %q id %q", b.name, all[i].Data, all[i].ID, lfOnly(b.body), ids[i])
		}
	}
}
