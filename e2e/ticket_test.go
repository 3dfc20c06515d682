package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// ticketPage signs in on the stream's server from another origin (fetch
// with credentials, allowed by -allow-origin), asks it for a ticket, and
// opens the private inbox with it, without credentials, as a page whose
// EventSource cannot send the cookie does (docs/protocol.md, "Pages on
// another origin"). It then tries the same ticket a second time.
const ticketPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>ticket</title></head><body><script>
const api = %q;
window.got = []; window.state = "signing in";
(async () => {
  const post = (path, body) => fetch(api + path, { method: "POST", credentials: "include", headers: { "Accept": "application/json" }, body });
  const login = await post("login", new URLSearchParams({ name: "alice" }));
  if (!login.ok) { window.state = "login " + login.status; return; }
  const t = await post("ticket");
  if (!t.ok) { window.state = "ticket " + t.status; return; }
  const { ticket } = await t.json();
  const url = api + "events?topic=user/alice&ticket=" + encodeURIComponent(ticket);
  const es = new EventSource(url);
  es.addEventListener("private", e => window.got.push(JSON.parse(e.data).text));
  es.onopen = () => {
    window.state = "open";
    const again = new EventSource(url);
    again.onopen = () => { window.second = "open"; again.close(); };
    again.onerror = () => { if (again.readyState === EventSource.CLOSED) window.second = "refused"; };
  };
})().catch(e => { window.state = "error " + e; });
</script></body></html>`

// TestTicketCrossOrigin: in each browser, a page on another origin signs
// in with credentials through the CORS allow-list, opens the user's
// private topic with a single-use ticket, and receives what a backend
// publishes to it; a second use of the ticket is refused. The server's
// log never holds the ticket.
func TestTicketCrossOrigin(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the browser test")
	}
	dir := buildApp(t)
	var pageURL string
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, ticketPage, pageURL)
	}))
	defer page.Close()
	srv := startServer(t, dir, "127.0.0.1:0", "-publish-token", chatToken, "-allow-origin", page.URL, "-log-level", "DEBUG")
	pageURL = srv.URL

	forEachBrowser(t, func(t *testing.T, b browserKind) {
		tab := openBrowser(t, b)
		if err := tab.navigate(page.URL); err != nil {
			t.Fatal(err)
		}
		if _, err := pollJS[bool](tab, 15*time.Second, `window.state === "open" && window.second !== undefined`); err != nil {
			state, _ := evalJS[string](tab, `String(window.state) + " / second: " + String(window.second)`)
			t.Fatalf("the page on %s did not open the inbox with a ticket and try it again: %v (%s)", page.URL, err, state)
		}
		if second, _ := evalJS[string](tab, `window.second`); second != "refused" {
			t.Errorf("the ticket's second use: %s, want refused", second)
		}
		text := "for alice via " + string(b)
		if err := publishPrivate(srv, "alice", "backend", text); err != nil {
			t.Fatal(err)
		}
		got, err := pollJS[[]string](tab, 10*time.Second, `window.got.length ? window.got : null`)
		if err != nil || len(got) != 1 || got[0] != text {
			t.Errorf("the ticket's stream got %q (%v), want [%q]", got, err, text)
		}
	})
	if log := srv.log.String(); strings.Contains(log, "ticket=") || strings.Contains(log, "t1.") {
		t.Errorf("the server's log holds a ticket:\n%s", log)
	}
}
