//go:build !unix

package conncap

// FDLimit returns 0 here: the limit on open files is unknown, and
// ForFDLimit(0) sets no cap.
func FDLimit() int { return 0 }
