package ssetest

import (
	"net/url"
	"os"
	"testing"
)

// BaseURL returns the test server's base URL, from [envURL]. It skips t
// when envURL is unset: the wasm tests run only through [RunBrowser],
// which starts the server (`go test` of the package, natively).
func BaseURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(envURL)
	if u == "" {
		t.Skipf("%s is unset: these tests need the SSE server that the package's TestBrowser starts; run them with `go test` of the package, natively", envURL)
	}
	return u
}

// URL returns the URL of path (such as "/events") on the test server for
// test t: key, its stats key (t.Name(), see [KeyStats]), and params, pairs
// of query parameter names and values, which may repeat.
func URL(t testing.TB, path string, params ...string) (u, key string) {
	t.Helper()
	key = t.Name()
	q := url.Values{"key": {key}}
	for i := 0; i+1 < len(params); i += 2 {
		q.Add(params[i], params[i+1])
	}
	return BaseURL(t) + path + "?" + q.Encode(), key
}
