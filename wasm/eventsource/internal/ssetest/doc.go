// Package ssetest runs a package's wasm tests in headless Chromium against
// an SSE test server. It is for tests only: [RunBrowser] and [Server] exist
// in native builds, where a package's browser driver (a native test) starts
// the server and runs `go test` of the same package with GOOS=js through
// wasmbrowsertest (package wasm/internal/browsertest). The wasm tests find
// the server through the environment variable [envURL] ([BaseURL], [URL]),
// and, in js/wasm builds only, renew their session on it with [Renew].
package ssetest

// envURL carries the SSE test server's base URL from the native driver into
// the wasm tests running in the browser.
const envURL = "SSEWASM_TEST_SSE_URL"
