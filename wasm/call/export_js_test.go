//go:build js && wasm

package call

import "syscall/js"

// WrapFetcher replaces the package's fetch helper by wrap(original), for
// tests that watch what it is called with, until restore.
func WrapFetcher(wrap func(orig js.Value) js.Value) (restore func()) {
	prev := fetcher
	wrapped := wrap(prev())
	fetcher = func() js.Value { return wrapped }
	return func() { fetcher = prev }
}
