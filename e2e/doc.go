// Package e2e holds the end-to-end tests of ssewasm: they build the real
// server and wasm binaries, start the server, and drive the pages in real
// headless browsers: every browser test runs in Chromium (chromedp) and in
// Firefox ESR (WebDriver BiDi, package e2e/internal/bidi), as subtests
// named /chromium and /firefox. The tests share one Chromium and one
// Firefox, each test on a fresh profile in them, and one build of the
// binaries.
//
//	go test ./e2e                        # needs /usr/bin/chromium and /usr/bin/firefox-esr (make test installs them)
//	go test ./e2e -run 'Test.*/firefox'  # one browser only
//	go test ./e2e -screenshots ../docs   # also refreshes the README's screenshots (from Chromium)
//	go test -short ./e2e                 # skips every test that needs a browser or the built app
//	go test ./e2e -run NONE -bench .     # the first paint and cold loads, measured
package e2e
