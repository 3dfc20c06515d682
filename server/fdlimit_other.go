//go:build !unix

package main

// fdLimit is unknown here: -max-conns 0 then sets no cap.
func fdLimit() int { return 0 }
