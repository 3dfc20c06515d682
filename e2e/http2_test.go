package e2e

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/internal/testcert"
)

// tabStreams is how many EventSources the page opens at once: more than
// the six HTTP/1.1 connections Chromium and Firefox allow per origin.
const tabStreams = 10

// TestManyStreamsOneTab: one tab (of Chromium, then of Firefox) opens
// ten EventSources to ten topics. Over TLS the server speaks HTTP/2, the ten streams share one
// connection, and each gets the event published to its topic. Over plain
// HTTP/1.1, the contrast: six open, the others stay pending and get
// nothing.
func TestManyStreamsOneTab(t *testing.T) {
	dir := buildApp(t)
	cert, key := testcert.WriteFiles(t, t.TempDir())
	tests := []struct {
		name     string
		args     []string
		protocol string // of the page's own load
		open     int    // streams that open
	}{
		{"HTTP/2 over TLS", []string{"-tls-cert", cert, "-tls-key", key}, "h2", tabStreams},
		{"HTTP/1.1", nil, "http/1.1", 6},
	}
	forEachBrowser(t, func(t *testing.T, b browserKind) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { manyStreams(t, b, startInstance(t, dir, tt.args...), tt.protocol, tt.open) })
		}
	})
}

// manyStreams opens tabStreams EventSources in one tab of browser b on
// srv's origin, expects open of them to open and get their event, and
// the others to stay pending.
func manyStreams(t *testing.T, b browserKind, srv *server, protocol string, open int) {
	p := openBrowser(t, b, insecureCerts())
	if err := p.navigate(srv.URL + "healthz"); err != nil {
		t.Fatal(err)
	}
	proto, err := evalJS[string](p, `performance.getEntriesByType("navigation")[0].nextHopProtocol`)
	if err != nil || proto != protocol {
		t.Fatalf("the page loaded over %q (%v), want %s", proto, err, protocol)
	}
	script := fmt.Sprintf(`window.got = {}; window.streams = [];
		for (let i = 0; i < %d; i++) {
			const topic = "tab" + i;
			const es = new EventSource("/events?topic=" + topic);
			es.addEventListener("e", ev => { window.got[topic] = ev.data; });
			window.streams.push(es);
		}
		true`, tabStreams)
	if _, err := evalJS[bool](p, script); err != nil {
		t.Fatal(err)
	}
	openCount := `window.streams.filter(es => es.readyState === EventSource.OPEN).length`
	start := time.Now()
	if _, err := pollJS[bool](p, 15*time.Second, fmt.Sprintf("%s === %d", openCount, open)); err != nil {
		n, _ := evalJS[int](p, openCount)
		t.Fatalf("%d of %d EventSources open, want %d: %v", n, tabStreams, open, err)
	}
	t.Logf("%s, %s: %d of %d EventSources open after %v", b, protocol, open, tabStreams, time.Since(start).Round(time.Millisecond))

	for i := range tabStreams {
		publishTLS(t, srv, fmt.Sprint("tab", i), fmt.Sprint("hello ", i))
	}
	gotExpr := fmt.Sprintf(`Array.from({length: %d}, (_, i) => window.got["tab" + i] ?? "")`, tabStreams)
	if open == tabStreams {
		if _, err := pollJS[bool](p, 10*time.Second, fmt.Sprintf(`Object.keys(window.got).length === %d`, tabStreams)); err != nil {
			got, _ := evalJS[[]string](p, gotExpr)
			t.Fatalf("events received %q, want one on each of the %d streams: %v", got, tabStreams, err)
		}
	} else {
		time.Sleep(time.Second) // the pending ones would have had time
	}
	got, err := evalJS[[]string](p, gotExpr)
	if err != nil {
		t.Fatal(err)
	}
	received := 0
	for i, g := range got {
		if g != "" {
			received++
			if want := fmt.Sprint("hello ", i); g != want {
				t.Errorf("stream %d got %q, want %q", i, g, want)
			}
		}
	}
	pending, _ := evalJS[int](p, `window.streams.filter(es => es.readyState === EventSource.CONNECTING).length`)
	t.Logf("%s, %s: %d streams received their event, %d still pending", b, protocol, received, pending)
	if received != open || pending != tabStreams-open {
		t.Errorf("%d streams received their event and %d are pending, want %d and %d", received, pending, open, tabStreams-open)
	}
}

// publishTLS publishes data on topic, over HTTPS when srv serves it.
func publishTLS(t *testing.T, srv *server, topic, data string) {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Post(srv.URL+"publish?topic="+topic+"&event=e", "text/plain", strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("publish on %s: %s", topic, resp.Status)
	}
}

// TestAppOverHTTP2 loads the whole app over our HTTP/2 (server/h2,
// the default with -tls-cert) in each browser: the page, app.js and
// app.wasm as ordinary responses (compressed, large), then the classic
// demo's stream, detached from its handler; its pings must arrive.
func TestAppOverHTTP2(t *testing.T) {
	dir := buildApp(t)
	cert, key := testcert.WriteFiles(t, t.TempDir())
	forEachBrowser(t, func(t *testing.T, b browserKind) {
		srv := startInstance(t, dir, "-tls-cert", cert, "-tls-key", key)
		tab := openBrowser(t, b, insecureCerts())
		if err := tab.navigate(srv.URL); err != nil {
			t.Fatal(err)
		}
		if _, err := pollJS[bool](tab, 60*time.Second, countLines("ping")+` >= 2`); err != nil {
			t.Fatalf("fewer than two Ping: lines within 60 s over HTTPS: %v\nserver log:\n%s", err, srv.log)
		}
		protos, err := evalJS[[]string](tab, `[performance.getEntriesByType("navigation")[0].nextHopProtocol,
			(performance.getEntriesByType("resource").find(`+isWasmEntry+`) || {}).nextHopProtocol || "none"]`)
		if err != nil {
			t.Fatal(err)
		}
		if protos[0] != "h2" || protos[1] != "h2" {
			t.Errorf("page over %q, app.wasm over %q; want both over h2", protos[0], protos[1])
		}
	})
}
