//go:build unix

package main

import "syscall"

// fdLimit returns the process's soft limit on open files (which the Go
// runtime raises to the hard limit at start), or 0 if unknown.
func fdLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Cur > 1<<30 {
		return 0
	}
	return int(r.Cur)
}
