//go:build !unix && !(js && wasm)

package browsertest

import "os/exec"

// killProcessGroupOnCancel leaves cmd alone where process groups are not
// available: exec.CommandContext kills only the go command.
func killProcessGroupOnCancel(cmd *exec.Cmd) {}
