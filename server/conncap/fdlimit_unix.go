//go:build unix

package conncap

import "syscall"

// FDLimit returns the process's soft limit on open files (which the Go
// runtime raises to the hard limit at start), or 0 if unknown.
func FDLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Cur > 1<<30 {
		return 0
	}
	return int(r.Cur)
}
