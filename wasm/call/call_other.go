//go:build !(js && wasm)

package call

import "context"

// post fails: there is no fetch outside the browser.
func post(ctx context.Context, url, body string, include bool) (answer, error) {
	return answer{}, ErrNotBrowser
}
