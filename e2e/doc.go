// Package e2e holds the end-to-end tests of ssewasm: they build the real
// server and wasm binaries, start the server, and drive the pages in a real
// headless Chromium.
//
//	go test ./e2e                        # needs /usr/bin/chromium (make test installs it)
//	go test ./e2e -screenshots ../docs   # also refreshes the README's screenshots
package e2e
