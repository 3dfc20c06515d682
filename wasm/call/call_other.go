//go:build !(js && wasm)

package call

import "context"

// send fails: there is no fetch outside the browser.
func send(ctx context.Context, r request) (answer, error) {
	return answer{}, ErrNotBrowser
}
