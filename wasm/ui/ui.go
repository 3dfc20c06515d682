// Package ui holds the go-app components of the ssewasm demo and the one
// function, [Routes], that registers their pages.
//
// Both binaries call Routes: the wasm binary so the app can render a page,
// the server binary so that go-app's handler answers the page's path
// instead of 404.
//
//	// wasm/main.go
//	ui.Routes()
//	app.RunWhenOnBrowser()
//
//	// server/main.go
//	ui.Routes()
//	http.Handle("/", &app.Handler{...})
//
// The package compiles natively too (go-app renders components on the
// server), but it never imports server code: the wasm binary must stay free of
// it.
package ui

import (
	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/ssewasm/ssewasm/shared/demo"
	"github.com/ssewasm/ssewasm/wasm/eventsource"
)

// Page describes one page of the app.
type Page struct {
	Path  string
	Title string
	New   func() app.Composer
}

// Pages lists every page of the app, in menu order.
func Pages() []Page {
	return []Page{
		{Path: "/", Title: "Classic demo", New: func() app.Composer { return &Classic{} }},
		{Path: LivePath, Title: "Live", New: func() app.Composer { return &Live{} }},
		{Path: ChatPath, Title: "Chat", New: func() app.Composer { return &Chat{} }},
	}
}

// Routes registers every page of Pages with go-app. Call it once from each
// binary's main, before app.RunWhenOnBrowser or serving app.Handler.
func Routes() {
	for _, p := range Pages() {
		app.Route(p.Path, p.New)
	}
}

// StreamPath is where the server serves the classic demo stream.
const StreamPath = "/stream"

// el returns an element with the given tag. The pages build their markup
// with app.Elem rather than go-app's typed builders (app.Ul, app.Button, …):
// each typed builder links its whole method set into app.wasm, about 13 KB
// a tag, and app.wasm has a size budget (1.495 MB in brotli).
func el(tag string) app.HTMLElem { return app.Elem(tag) }

// EarlyStreams returns what the server puts in every page's head so that
// a page's stream opens with the HTML rather than once app.wasm has
// downloaded and started: the classic demo's, which its OnMount then
// takes over (eventsource.EarlyScript).
func EarlyStreams() string {
	return eventsource.EarlyScript("/", StreamPath, demo.ConnectTime{}.EventName())
}
