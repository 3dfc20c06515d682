// Command goapphello is the smallest go-app program: one route, one
// component. Its size is the floor under any go-app app.wasm, ours
// included (docs/design.md, "First paint").
package main

import "github.com/maxence-charriere/go-app/v10/pkg/app"

type hello struct{ app.Compo }

func (h *hello) Render() app.UI { return app.H1().Text("hello") }

func main() {
	app.Route("/", func() app.Composer { return &hello{} })
	app.RunWhenOnBrowser()
}
