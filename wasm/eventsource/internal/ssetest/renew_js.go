//go:build js && wasm

package ssetest

import (
	"context"
	"errors"
	"syscall/js"
)

// renewFetch posts to url with fetch and credentials, and calls done with
// "" for a 200 or what went wrong; it returns the request's
// AbortController.
var renewFetch = js.Global().Get("Function").New("url", "done", `
const ctl = new AbortController();
fetch(url, { method: "POST", credentials: "include", signal: ctl.signal })
	.then(r => r.text().then(() => r.ok ? "" : "HTTP " + r.status))
	.then(done, e => done(String(e))); // an abort while the body is read rejects too
return ctl;`)

// Renew posts to the server's /renew URL u (see [Server]) with fetch and
// credentials, so that the server sets the key's session cookie, as an
// app's renewal does. It returns an error for a status other than 200, or
// ctx's error when ctx ends first, which aborts the fetch. Its js.Func is
// released before it returns.
func Renew(ctx context.Context, u string) error {
	done := make(chan string, 1) // buffered: the callback must not block
	cb := js.FuncOf(func(_ js.Value, args []js.Value) any {
		done <- args[0].String()
		return nil
	})
	defer cb.Release()
	ctl := renewFetch.Invoke(u, cb)
	select {
	case msg := <-done:
		if msg != "" {
			return errors.New("ssetest: renew: " + msg)
		}
		return nil
	case <-ctx.Done():
		ctl.Call("abort")
		<-done // the abort settles the fetch at once
		return ctx.Err()
	}
}
