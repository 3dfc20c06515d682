//go:build js && wasm

package appstream

import (
	"syscall/js"
	"time"
)

// fallbackDelay is how long a queued batch waits for an animation frame
// before a timer delivers it: frames stop in hidden tabs.
const fallbackDelay = 100 * time.Millisecond

// frameScheduler uses requestAnimationFrame, with setTimeout as a fallback;
// the first to fire cancels the other. Its two js.Funcs live as long as the
// stream.
type frameScheduler struct {
	onFrame, onTimeout js.Func
	frameID, timerID   js.Value // of the pending call; undefined if none
}

func newScheduler(frame func(fallback bool)) scheduler {
	s := &frameScheduler{frameID: js.Undefined(), timerID: js.Undefined()}
	s.onFrame = js.FuncOf(func(js.Value, []js.Value) any { frame(false); return nil })
	s.onTimeout = js.FuncOf(func(js.Value, []js.Value) any { frame(true); return nil })
	return s
}

func (s *frameScheduler) schedule() {
	g := js.Global()
	if raf := g.Get("requestAnimationFrame"); raf.Type() == js.TypeFunction {
		s.frameID = raf.Invoke(s.onFrame)
	}
	s.timerID = g.Call("setTimeout", s.onTimeout, fallbackDelay.Milliseconds())
}

func (s *frameScheduler) cancel() {
	g := js.Global()
	if !s.frameID.IsUndefined() {
		g.Call("cancelAnimationFrame", s.frameID)
		s.frameID = js.Undefined()
	}
	if !s.timerID.IsUndefined() {
		g.Call("clearTimeout", s.timerID)
		s.timerID = js.Undefined()
	}
}

func (s *frameScheduler) release() {
	s.cancel()
	s.onFrame.Release()
	s.onTimeout.Release()
}
