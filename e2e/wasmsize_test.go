package e2e

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/andybalholm/brotli"
)

// TestWasmCompressed: the app's wasm goes out as brotli of at most 1.495 MB
// to browsers that accept it, and raw to clients that do not.
func TestWasmCompressed(t *testing.T) {
	dir := buildApp(t)
	srv := startServer(t, dir, "127.0.0.1:0")
	raw, err := os.ReadFile(filepath.Join(dir, "web", "app.wasm"))
	if err != nil {
		t.Fatal(err)
	}

	req, _ := http.NewRequest("GET", srv.URL+"web/app.wasm", nil)
	req.Header.Set("Accept-Encoding", "br") // set by hand: Go's client then leaves the body alone
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "br" {
		t.Fatalf("Content-Encoding %q, want br", resp.Header.Get("Content-Encoding"))
	}
	// 1.45 MB until issue 21, whose apps with users took app.wasm from
	// 1,447,144 bytes to 1,494,003: shared/demo's declarations of the
	// chat (topics, key syntax, actions) and the reserved events 12.1 KB;
	// the client's renewal and typed actions, with the /live board on
	// them, 9.0 KB; the /chat page 25.7 KB (the code of its markup and
	// handlers). The smallest raise that fits; the next issue cuts
	// app.wasm to 1.2 MB.
	const limit = 1_495_000
	t.Logf("app.wasm: %d bytes raw, %d bytes brotli", len(raw), len(body))
	if len(body) > limit {
		t.Errorf("brotli app.wasm is %d bytes, over the %d limit", len(body), limit)
	}
	plain, err := io.ReadAll(brotli.NewReader(bytes.NewReader(body)))
	if err != nil || !bytes.Equal(plain, raw) {
		t.Errorf("the brotli body does not decode to app.wasm (%v)", err)
	}

	req, _ = http.NewRequest("GET", srv.URL+"web/app.wasm", nil)
	resp, err = (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, raw) {
		t.Errorf("without Accept-Encoding: Content-Encoding %q, %d bytes; want the raw %d bytes",
			resp.Header.Get("Content-Encoding"), len(body), len(raw))
	}
}
