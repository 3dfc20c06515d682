package epoll

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The flags have Linux's values.
func TestEventsAreLinux(t *testing.T) {
	for _, tc := range []struct {
		name string
		ours Events
		sys  uint32
	}{
		{"Readable", Readable, syscall.EPOLLIN},
		{"PeerHangUp", PeerHangUp, syscall.EPOLLRDHUP},
		{"OneShot", OneShot, syscall.EPOLLONESHOT},
		{"EdgeTriggered", EdgeTriggered, uint32(1) << 31}, // syscall.EPOLLET is a negative int
	} {
		if uint32(tc.ours) != tc.sys {
			t.Errorf("%s = %#x, want %#x", tc.name, uint32(tc.ours), tc.sys)
		}
	}
	if et := int64(syscall.EPOLLET); uint32(et) != uint32(EdgeTriggered) {
		t.Errorf("EPOLLET is %#x", et)
	}
}

// The key survives the 64 bits of the event's data.
func TestKeyRoundTrip(t *testing.T) {
	for _, key := range []uint64{1, 1 << 31, 1<<32 - 1, 1 << 32, 1<<63 + 5, ^uint64(0)} {
		var ev syscall.EpollEvent
		setKey(&ev, key)
		if got := keyOf(&ev); got != key {
			t.Errorf("key %#x came back as %#x", key, got)
		}
	}
}

// event is one call of a set's function.
type event struct {
	v   string
	err error
}

// recorder is a set's function that sends what it is called with.
type recorder chan event

func (r recorder) on(v string, err error) { r <- event{v, err} }

// next returns the next call, failing the test if none comes within 5 s.
func (r recorder) next(t *testing.T) event {
	t.Helper()
	select {
	case e := <-r:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
		return event{}
	}
}

// none fails the test if a call comes within d.
func (r recorder) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case e := <-r:
		t.Fatalf("unexpected event %+v", e)
	case <-time.After(d):
	}
}

// socketPair returns both ends of a TCP connection on 127.0.0.1 and the
// server end's RawConn; both close when the test ends.
func socketPair(t *testing.T) (server, client net.Conn, raw syscall.RawConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	raw, err = server.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return server, client, raw
}

func openRecorder(t *testing.T, wait func(int, []syscall.EpollEvent, int) (int, error), log *slog.Logger) (*Set[string], recorder) {
	t.Helper()
	rec := make(recorder, 16)
	s, err := open(log, rec.on, wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, rec
}

// TestSet: the events each socket is added with are reported, with its
// value, and no others; Remove and Close stop the reports.
func TestSet(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s *Set[string], rec recorder)
	}{
		{"readable", func(t *testing.T, s *Set[string], rec recorder) {
			_, client, raw := socketPair(t)
			if err := s.Add(1, raw, Readable|OneShot, "a"); err != nil {
				t.Fatal(err)
			}
			rec.none(t, 50*time.Millisecond) // nothing has arrived
			client.Write([]byte("x"))
			if e := rec.next(t); e != (event{"a", nil}) {
				t.Errorf("got %+v, want a readable", e)
			}
		}},
		{"one shot until re-armed", func(t *testing.T, s *Set[string], rec recorder) {
			_, client, raw := socketPair(t)
			if err := s.Add(1, raw, Readable|OneShot, "a"); err != nil {
				t.Fatal(err)
			}
			client.Write([]byte("x"))
			rec.next(t)
			client.Write([]byte("y"))
			rec.none(t, 50*time.Millisecond) // not re-armed
			if err := s.Add(1, raw, Readable|OneShot, "b"); err != nil {
				t.Fatal(err)
			}
			if e := rec.next(t); e != (event{"b", nil}) { // bytes wait: at once, with the new value
				t.Errorf("got %+v, want b readable", e)
			}
		}},
		{"peer hang-up, not data", func(t *testing.T, s *Set[string], rec recorder) {
			_, client, raw := socketPair(t)
			if err := s.Add(7, raw, PeerHangUp|EdgeTriggered, "a"); err != nil {
				t.Fatal(err)
			}
			client.Write([]byte("x"))
			rec.none(t, 50*time.Millisecond) // data is not watched
			client.Close()
			if e := rec.next(t); e != (event{"a", nil}) {
				t.Errorf("got %+v, want a hung up", e)
			}
		}},
		{"keys beyond 32 bits", func(t *testing.T, s *Set[string], rec recorder) {
			_, c1, raw1 := socketPair(t)
			_, c2, raw2 := socketPair(t)
			s.Add(1<<32+1, raw1, Readable|OneShot, "high")
			s.Add(1, raw2, Readable|OneShot, "low")
			c1.Write([]byte("x"))
			if e := rec.next(t); e.v != "high" {
				t.Errorf("got %+v, want high", e)
			}
			c2.Write([]byte("x"))
			if e := rec.next(t); e.v != "low" {
				t.Errorf("got %+v, want low", e)
			}
		}},
		{"removed", func(t *testing.T, s *Set[string], rec recorder) {
			_, client, raw := socketPair(t)
			s.Add(1, raw, Readable, "a")
			if !s.Remove(1, raw) || s.Len() != 0 {
				t.Fatal("Remove did not remove")
			}
			if s.Remove(1, raw) {
				t.Error("a second Remove found the key")
			}
			client.Write([]byte("x"))
			rec.none(t, 50*time.Millisecond)
		}},
		{"closed", func(t *testing.T, s *Set[string], rec recorder) {
			_, client, raw := socketPair(t)
			s.Add(1, raw, Readable, "a")
			s.Close() // waits for the goroutine: goleak would see it
			client.Write([]byte("x"))
			rec.none(t, 50*time.Millisecond)
			if err := s.Add(2, raw, Readable, "b"); !errors.Is(err, ErrClosed) {
				t.Errorf("Add after Close: %v, want ErrClosed", err)
			}
			s.Remove(1, raw) // harmless
		}},
		{"key 0", func(t *testing.T, s *Set[string], rec recorder) {
			_, _, raw := socketPair(t)
			if err := s.Add(0, raw, Readable, "a"); err == nil {
				t.Error("Add took key 0, the set's own")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, rec := openRecorder(t, syscall.EpollWait, nil)
			tc.run(t, s, rec)
		})
	}
}

// faultyWait is epoll_wait that returns the errors sent on errs instead
// of waiting, when one is sent: it waits in slices of 5 ms to look.
type faultyWait struct{ errs chan error }

func (f faultyWait) wait(epfd int, events []syscall.EpollEvent, _ int) (int, error) {
	for {
		select {
		case err := <-f.errs:
			return 0, err
		default:
		}
		n, err := syscall.EpollWait(epfd, events, 5)
		if n != 0 || err != nil {
			return n, err
		}
	}
}

// An EINTR is waited through: nothing is counted or failed.
func TestWaitInterrupted(t *testing.T) {
	f := faultyWait{make(chan error, 1)}
	var log bytes.Buffer // written by the set's goroutine before any call of its function
	s, rec := openRecorder(t, f.wait, slog.New(slog.NewTextHandler(&log, nil)))
	_, client, raw := socketPair(t)
	s.Add(1, raw, Readable|OneShot, "a")
	before := Errors()
	f.errs <- syscall.EINTR
	rec.none(t, 50*time.Millisecond)
	client.Write([]byte("x"))
	if e := rec.next(t); e != (event{"a", nil}) {
		t.Errorf("after EINTR: %+v, want a readable", e)
	}
	if n := Errors() - before; n != 0 {
		t.Errorf("EINTR counted %d errors", n)
	}
	if log.String() != "" {
		t.Errorf("EINTR logged %q", log.String())
	}
}

// A failure of epoll_wait is logged and counted, every socket in the set
// is failed (its owner closes it), and the set closes: Add says so. Fail
// does the same, for the tests of the sets' owners.
func TestWaitFails(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func(s *Set[string], f faultyWait, err error)
	}{
		{"epoll_wait", func(_ *Set[string], f faultyWait, err error) { f.errs <- err }},
		{"Fail", func(s *Set[string], _ faultyWait, err error) { s.Fail(err) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := faultyWait{make(chan error, 1)}
			var log bytes.Buffer // written by the set's goroutine before it fails the first socket
			s, rec := openRecorder(t, f.wait, slog.New(slog.NewTextHandler(&log, nil)))
			_, _, raw1 := socketPair(t)
			_, _, raw2 := socketPair(t)
			s.Add(1, raw1, Readable|OneShot, "a")
			s.Add(2, raw2, PeerHangUp|EdgeTriggered, "b")
			before := Errors()
			tc.fail(s, f, syscall.EBADF)
			failed := map[string]bool{}
			for range 2 {
				e := rec.next(t)
				if !errors.Is(e.err, syscall.EBADF) {
					t.Errorf("%s failed with %v, want EBADF", e.v, e.err)
				}
				failed[e.v] = true
			}
			if !failed["a"] || !failed["b"] {
				t.Errorf("failed %v, want a and b", failed)
			}
			rec.none(t, 20*time.Millisecond) // once each
			if n := Errors() - before; n != 1 {
				t.Errorf("counted %d errors, want 1", n)
			}
			if got := log.String(); !strings.Contains(got, "bad file descriptor") || !strings.Contains(got, "level=ERROR") {
				t.Errorf("logged %q, want an error with the cause", got)
			}
			if err := s.Add(3, raw1, Readable, "c"); !errors.Is(err, ErrClosed) {
				t.Errorf("Add after the failure: %v, want ErrClosed", err)
			}
			if s.Len() != 0 || s.Remove(1, raw1) {
				t.Error("the failed set still holds sockets")
			}
			<-s.done              // its goroutine has returned
			s.Fail(syscall.EBADF) // once failed, a set stays so: nothing more is reported or counted
			if n := Errors() - before; n != 1 {
				t.Errorf("counted %d errors after a second Fail, want 1", n)
			}
		})
	}
}
