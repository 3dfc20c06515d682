//go:build !(js && wasm)

package call_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ssewasm/ssewasm/shared/action"
	"github.com/ssewasm/ssewasm/wasm/call"
)

// Outside the browser, a call fails with ErrNotBrowser, after the checks
// that need no browser.
func TestOutsideTheBrowser(t *testing.T) {
	if _, err := call.Do(context.Background(), echo, echoReq{Text: "hi"}); !errors.Is(err, call.ErrNotBrowser) {
		t.Errorf("Do: %v, want ErrNotBrowser", err)
	}
	_, err := call.Do(context.Background(), echo, echoReq{Text: strings.Repeat("x", 300)})
	if e, ok := errors.AsType[*action.Error](err); !ok || e.Status != 413 || !strings.Contains(e.Message, "(not sent)") {
		t.Errorf("an oversized request: %v, want a 413 action error before sending", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := call.Do(ctx, echo, echoReq{}); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled context: %v", err)
	}
	_, err = call.Do(context.Background(), action.New[func(), struct{}]("f", 10), nil)
	if err == nil || !strings.Contains(err.Error(), "does not encode") {
		t.Errorf("a request that does not encode: %v", err)
	}
}
