//go:build js && wasm

package call

import (
	"context"
	"fmt"
	"sync"
	"syscall/js"
)

// fetcher returns the JavaScript function that makes one request with
// fetch: fetcher()(url, method, body, contentType, credentials, done)
// returns the request's AbortController and calls done(status,
// contentType, retryAfter, body, error) exactly once, when the whole
// answer is in or the request failed (status 0 and the error's text). A
// body of null is none, a contentType of "" no Content-Type. Compiled
// once; a variable so that tests can wrap it.
var fetcher = sync.OnceValue(func() js.Value {
	return js.Global().Get("Function").New(`return (url, method, body, type, credentials, done) => {
	const ctl = new AbortController();
	let settled = false;
	const finish = (status, type, retryAfter, text, err) => {
		if (settled) return;
		settled = true;
		done(status, type, retryAfter, text, err);
	};
	const fail = e => finish(0, "", "", "", String((e && e.message) || e));
	try {
		const headers = { "Accept": "application/json" };
		if (type) headers["Content-Type"] = type;
		fetch(url, {
			method, body, credentials, signal: ctl.signal,
			cache: "no-store", redirect: "error", headers,
		}).then(r => r.text().then(t => finish(r.status, r.headers.get("Content-Type") ?? "", r.headers.get("Retry-After") ?? "", t, "")))
		  .catch(fail);
	} catch (e) { fail(e); }
	return ctl;
};`).Invoke()
})

// send sends r with fetch and waits for the whole answer, or for ctx to
// end, which aborts the request.
func send(ctx context.Context, r request) (answer, error) {
	credentials := "same-origin"
	if r.include {
		credentials = "include"
	}
	body := js.Null()
	if r.method != "GET" {
		body = js.ValueOf(r.body)
	}
	type result struct {
		a   answer
		err string
	}
	// Buffered: done sends once, on the browser's event loop, which must
	// never block.
	ch := make(chan result, 1)
	done := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- result{answer{args[0].Int(), args[1].String(), args[2].String(), args[3].String()}, args[4].String()}
		return nil
	})
	// Released only after done ran: fetch calls it even when aborted.
	defer done.Release()
	ctl := fetcher().Invoke(r.url, r.method, body, r.contentType, credentials, done)
	var res result
	select {
	case res = <-ch:
	case <-ctx.Done():
		ctl.Call("abort")
		<-ch // the abort settles the fetch at once
		return answer{}, ctx.Err()
	}
	if res.a.status == 0 {
		return answer{}, fmt.Errorf("%w: %s", ErrNetwork, res.err) // errors.Join would add to app.wasm
	}
	return res.a, nil
}
