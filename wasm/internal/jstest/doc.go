// Package jstest holds helpers for wasm tests that run in the browser
// (see package browsertest): awaiting a promise, compiling JavaScript,
// counting calls to released js.Funcs. It is for tests only, and exists
// in js/wasm builds only.
package jstest
