//go:build js && wasm

package jstest

import (
	"errors"
	"syscall/js"
	"testing"
	"time"
)

// Func compiles a JavaScript function of params with body.
func Func(body string, params ...string) js.Value {
	args := make([]any, 0, len(params)+1)
	for _, p := range params {
		args = append(args, p)
	}
	return js.Global().Get("Function").New(append(args, body)...)
}

// Await waits up to timeout for promise and returns its value; a
// rejection or the timeout fails t, naming what was awaited. Its two
// js.Funcs are released before it returns.
func Await(t testing.TB, promise js.Value, what string, timeout time.Duration) js.Value {
	t.Helper()
	type result struct {
		v   js.Value
		err error
	}
	done := make(chan result, 1) // buffered: the callbacks must not block
	onOK := js.FuncOf(func(_ js.Value, args []js.Value) any {
		done <- result{v: args[0]}
		return nil
	})
	defer onOK.Release()
	onErr := js.FuncOf(func(_ js.Value, args []js.Value) any {
		done <- result{err: errors.New(args[0].Call("toString").String())}
		return nil
	})
	defer onErr.Release()
	promise.Call("then", onOK, onErr)
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("%s: %v", what, r.err)
		}
		return r.v
	case <-time.After(timeout):
		t.Fatalf("%s: no answer within %v", what, timeout)
	}
	panic("unreachable")
}

// ReleasedCalls runs fn and counts the calls to released js.Funcs it
// made, which syscall/js reports with console.error("call to released
// function"): call a js.Func's Value after its owner should have
// released it, and count.
func ReleasedCalls(fn func()) int {
	c := Func(`
const orig = console.error;
const c = { n: 0, restore() { console.error = orig; } };
console.error = function (...args) {
	if (args[0] === "call to released function") { c.n++; return; }
	return orig.apply(console, args);
};
return c;`).Invoke()
	defer c.Call("restore")
	fn()
	return c.Get("n").Int()
}
