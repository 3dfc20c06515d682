//go:build js && wasm

package eventsource

import "syscall/js"

// DrainFunc returns the JavaScript side of the Source's only js.Func, for
// tests that check it is released.
func DrainFunc(s *Source) js.Value { return s.drain.Value }
