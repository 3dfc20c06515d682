package e2e

import (
	"os"
	"testing"
)

// TestMain closes what the package's tests share once they have all run:
// the browsers (sharedBrowsers) and the built app (buildApp).
func TestMain(m *testing.M) {
	code := m.Run()
	sharedBrowsers.closeAll()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}
