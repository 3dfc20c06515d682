package sse

// onFreshStack runs f on a goroutine of its own and waits for it: the
// stack that f's calls grow is freed when f returns, instead of staying
// with the calling goroutine, which the runtime shrinks only at a
// garbage collection, by half, and only if it uses less than a quarter
// of it. A goroutine that waits for a long time (a stream's) then keeps
// the small stack its own frames need. A panic in f is raised again in
// the caller, so that net/http's recovery of a handler's panic still
// applies.
func onFreshStack(f func()) {
	done := make(chan any, 1) // buffered: the goroutine never waits for the caller
	go func() {
		panicked := true
		defer func() {
			if panicked {
				done <- panicValue{recover()}
				return
			}
			done <- nil
		}()
		f()
		panicked = false
	}()
	if p, ok := (<-done).(panicValue); ok {
		panic(p.v)
	}
}

// panicValue carries a panic from onFreshStack's goroutine.
type panicValue struct{ v any }
