package h2_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// attackTarget, set on Linux (attack_test.go), serves as the server
// under attack when this test binary is started as a child of
// TestAttacks; it reports false in any other process.
var attackTarget func() (exitCode int, isChild bool)

func TestMain(m *testing.M) {
	if attackTarget != nil {
		if code, ok := attackTarget(); ok {
			os.Exit(code)
		}
	}
	goleak.VerifyTestMain(m)
}
