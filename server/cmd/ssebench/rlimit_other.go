//go:build !unix

package main

// fdHardLimit returns 0: the limit is unknown on this system.
func fdHardLimit() uint64 { return 0 }
