// Package e2e holds the end-to-end tests of ssewasm: they build the real
// server and wasm binaries, start the server, and drive the pages in real
// headless browsers: every browser test runs in Chromium (chromedp) and in
// Firefox ESR (WebDriver BiDi, package e2e/internal/bidi), as subtests
// named /chromium and /firefox (see forEachBrowser in browser_test.go).
//
//	go test ./e2e                        # needs /usr/bin/chromium and /usr/bin/firefox-esr (make test installs them)
//	go test ./e2e -run 'Test.*/firefox'  # one browser only
//	go test ./e2e -screenshots ../docs   # also refreshes the README's screenshots (from Chromium)
package e2e
