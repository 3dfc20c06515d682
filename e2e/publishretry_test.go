package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// retryPage publishes the same event twice with one Idempotency-Key from
// its own origin, as a page would retry after a lost answer, and keeps
// what it could read of both answers in window.result.
const retryPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>retry</title></head><body><script>
  const post = () => fetch(%q, {method: "POST", body: "hello",
    headers: {"Content-Type": "text/plain", "Idempotency-Key": "order-42"}})
    .then(async r => [r.status, (await r.json()).id || "", r.headers.get("Idempotent-Replayed") || ""]);
  post().then(a => post().then(b => { window.result = a.concat(b); }))
    .catch(e => { window.result = ["error: " + e]; });
</script></body></html>`

// TestPublishRetryCrossOrigin: in each real browser, a page of an allowed
// origin retries a publish with Idempotency-Key through CORS (a
// preflight, since the header is not a simple one): both answers carry
// the first event's ID, and the page can read Idempotent-Replayed on the
// second, because the server exposes it.
func TestPublishRetryCrossOrigin(t *testing.T) {
	dir := buildApp(t)
	var publishURL string
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, retryPage, publishURL)
	}))
	defer page.Close()

	forEachBrowser(t, func(t *testing.T, b browserKind) {
		// A server of its own per browser: the key is new to each.
		srv := startServer(t, dir, "127.0.0.1:0", "-allow-origin", page.URL)
		publishURL = srv.URL + "publish?topic=orders"
		tab := openBrowser(t, b)
		if err := tab.navigate(page.URL); err != nil {
			t.Fatal(err)
		}
		got, err := pollJS[[]any](tab, 10*time.Second, `window.result || null`)
		if err != nil {
			t.Fatalf("the page never got both answers: %v", err)
		}
		if len(got) != 6 {
			t.Fatalf("page result %v, want two answers", got)
		}
		if got[0] != float64(200) || got[3] != float64(200) || got[1] == "" || got[1] != got[4] {
			t.Errorf("answers %v: want 200 twice with the first event's ID", got)
		}
		if got[2] != "" || got[5] != "true" {
			t.Errorf("Idempotent-Replayed %q then %q as the page reads them, want \"\" then \"true\"", got[2], got[5])
		}
		t.Logf("%s: %v", b, got)
	})
}
