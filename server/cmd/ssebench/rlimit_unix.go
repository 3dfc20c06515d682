//go:build unix

package main

import "syscall"

// fdHardLimit returns the hard RLIMIT_NOFILE, or 0 if unknown.
func fdHardLimit() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	return r.Max
}
