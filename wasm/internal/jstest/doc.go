// Package jstest holds helpers for wasm tests that run in the browser
// (see package browsertest): awaiting a promise, compiling JavaScript,
// counting calls to released js.Funcs. It is for tests only, and exists
// in js/wasm builds only.
//
//	text := jstest.Await(t, jstest.Func(`return fetch(u).then(r => r.text())`, "u").Invoke(u), "GET "+u, 15*time.Second)
//	released := jstest.ReleasedCalls(func() { f.Invoke() }) // 1 if f's js.Func was released
package jstest
