package h2

// HandshakesInProgress is how many handshakes l is doing now.
func HandshakesInProgress(l *Listener) int { return len(l.slots) }
