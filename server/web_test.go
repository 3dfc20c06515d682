package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPrecompressedWasm: app.wasm goes out as brotli or gzip when the
// client accepts it, raw otherwise, always as application/wasm with Vary:
// Accept-Encoding,
// and go-app's progress bar is told the uncompressed size.
func TestPrecompressedWasm(t *testing.T) {
	dir := fakeWeb(t)
	files := map[string]string{"app.wasm.br": "BROTLI", "app.wasm.gz": "GZIP"}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	web, err := openWebDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := newService(defaults(t), web, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.beginShutdown(time.Second, quiet)

	tests := []struct {
		accept   string
		encoding string
		body     string
	}{
		{"br", "br", "BROTLI"},
		{"gzip, deflate, br, zstd", "br", "BROTLI"},
		{"gzip", "gzip", "GZIP"},
		{"br;q=0, gzip", "gzip", "GZIP"},
		{"", "", "\x00asm-test"},
		{"identity", "", "\x00asm-test"},
	}
	for _, tt := range tests {
		t.Run(tt.accept, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/web/app.wasm", nil)
			if tt.accept != "" {
				req.Header.Set("Accept-Encoding", tt.accept)
			}
			rec := httptest.NewRecorder()
			svc.handler.ServeHTTP(rec, req)
			res := rec.Result()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != 200 || string(body) != tt.body {
				t.Fatalf("status %d body %q, want 200 %q", res.StatusCode, body, tt.body)
			}
			if got := res.Header.Get("Content-Encoding"); got != tt.encoding {
				t.Errorf("Content-Encoding %q, want %q", got, tt.encoding)
			}
			if !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
				t.Errorf("Vary %q lacks Accept-Encoding", res.Header.Get("Vary"))
			}
			// instantiateStreaming refuses any other type, raw or encoded.
			if res.Header.Get("Content-Type") != "application/wasm" {
				t.Errorf("Content-Type %q, want application/wasm", res.Header.Get("Content-Type"))
			}
		})
	}

	// The page tells go-app the uncompressed size, for its progress bar.
	rec := httptest.NewRecorder()
	svc.handler.ServeHTTP(rec, httptest.NewRequest("GET", "/app.js", nil))
	if want := `goappWasmContentLength = "9";`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("app.js does not contain %s", want)
	}
}

// TestStalePrecompressedIgnored: a .br older than app.wasm (a rebuild
// without precompress) is never served.
func TestStalePrecompressedIgnored(t *testing.T) {
	dir := fakeWeb(t)
	br := filepath.Join(dir, "app.wasm.br")
	if err := os.WriteFile(br, []byte("OLD"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(br, old, old)
	web, err := openWebDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/web/app.wasm", nil)
	req.Header.Set("Accept-Encoding", "br")
	web.ServeHTTP(rec, req)
	if rec.Header().Get("Content-Encoding") != "" || rec.Body.String() != "\x00asm-test" {
		t.Fatalf("served %q with %q, want the raw file", rec.Body.String(), rec.Header().Get("Content-Encoding"))
	}
}

// TestWasmStartsWithPage: the page preloads app.wasm, and app.js hands
// the fetch's own response to instantiateStreaming (go-app's copy through
// a ReadableStream has no URL, so the compiled module is never cached),
// while still showing progress, and registers the service worker only
// once the app runs.
func TestWasmStartsWithPage(t *testing.T) {
	ts, _ := newTestService(t, defaults(t))
	_, page := get(t, ts.URL+"/")
	if !strings.Contains(page, wasmPreload) {
		t.Errorf("the page does not preload app.wasm")
	}
	for _, path := range []string{"/app.js", "/goapp.js"} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		js := string(b)
		if strings.Contains(js, "new ReadableStream") || !strings.Contains(js, "response.clone()") || !strings.Contains(js, "progressHandler(") {
			t.Errorf("%s still copies the wasm response, or shows no progress", path)
		}
		if strings.Contains(js, "\ngoappInitServiceWorker();") || !strings.Contains(js, ourStart) {
			t.Errorf("%s registers the service worker before the app runs", path)
		}
		if resp.Header.Get("Content-Length") != strconv.Itoa(len(b)) || resp.Header.Get("Content-Type") != "application/javascript" {
			t.Errorf("%s: Content-Length %q for %d bytes, Content-Type %q", path, resp.Header.Get("Content-Length"), len(b), resp.Header.Get("Content-Type"))
		}
		// go-app's revalidation still works.
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
		again, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		again.Body.Close()
		if again.StatusCode != http.StatusNotModified {
			t.Errorf("%s with its ETag: %d, want 304", path, again.StatusCode)
		}
	}
}
