package main

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/ssewasm/ssewasm/wasm/ui"
)

// newMux routes the demo's stream and every go-app page. Stream handlers
// end when stopStreams is closed.
func newMux(web *webDir, stopStreams <-chan struct{}, log *slog.Logger) *http.ServeMux {
	// The same routes as the wasm binary: without them go-app's handler
	// answers 404 for the pages.
	ui.Routes()

	mux := http.NewServeMux()
	mux.Handle("GET "+ui.StreamPath, classicStream(stopStreams, time.Second, log))
	mux.Handle("/", newAppHandler(web))
	return mux
}

// newAppHandler configures go-app's handler: our own name, icons and CSS (no
// request leaves the machine), a version taken from the wasm build, and a
// service worker that leaves event streams alone.
func newAppHandler(web *webDir) *app.Handler {
	return &app.Handler{
		Name:        "ssewasm",
		ShortName:   "ssewasm",
		Title:       "ssewasm: Server-Sent Events in Go",
		Description: "A Go server streams Server-Sent Events to a Go WebAssembly page.",
		Lang:        "en",
		Icon: app.Icon{
			Default:  "/web/icon-192.png",
			Large:    "/web/icon-512.png",
			Maskable: "/web/icon-512.png",
			SVG:      "/web/icon.svg",
		},
		BackgroundColor:       "#10141a",
		ThemeColor:            "#10141a",
		LoadingLabel:          "Loading the Go app: {progress}%",
		Styles:                []string{"/web/app.css"},
		Resources:             web,
		Version:               web.version,
		ServiceWorkerTemplate: serviceWorker,
	}
}
