// Command wasm is the browser side of the ssewasm demo: a go-app
// WebAssembly app built into web/app.wasm by `make build`.
//
// It must never import server code (a test in this package fails if it
// does): linking it would double the size of the wasm binary.
package main

import (
	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/ssewasm/ssewasm/wasm/ui"
)

func main() {
	ui.Routes()
	app.RunWhenOnBrowser()
}
