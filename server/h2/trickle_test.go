package h2

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// BenchmarkTrickledHeaderBlock feeds a connection a header block of
// CONTINUATION frames of 100 bytes, 1 to 8 bytes per wake-up, the
// socket empty in between, as a parked connection reads a block that
// trickles in tiny TLS records. The time per byte must not grow with
// the block's size: each wake-up once rescanned the frames of the block
// so far and copied all of it twice.
//
//	go test ./server/h2 -run '^$' -bench TrickledHeaderBlock
func BenchmarkTrickledHeaderBlock(b *testing.B) {
	for _, size := range []int{4 << 10, 16 << 10, 48 << 10} {
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			block := trickledBlock(size)
			c, nc := newTrickled(b)
			b.SetBytes(int64(len(block)))
			b.ResetTimer()
			for i := range b.N {
				frames := bytes.Clone(block)
				id := uint32(2*i + 1)
				for off := 0; off < len(frames); off += 9 + (int(frames[off])<<16 | int(frames[off+1])<<8 | int(frames[off+2])) {
					frames[off+5], frames[off+6], frames[off+7], frames[off+8] = byte(id>>24), byte(id>>16), byte(id>>8), byte(id)
				}
				trickle(b, c, nc, frames)
			}
		})
	}
}

// TestTrickledHeaderBlockLinear: a header block that trickles in, 1 to
// 8 bytes per wake-up, makes the connection allocate in proportion to
// its size, not to its square (issue 22: each wake-up once copied the
// block so far twice). It counts bytes allocated, not time: a block of
// 48 KB may cost no more a byte than one of 8 KB (about a quarter, now),
// where it cost about 25 times more. The rescans of the block, which
// allocate nothing, BenchmarkTrickledHeaderBlock times.
func TestTrickledHeaderBlockLinear(t *testing.T) {
	perByte := func(size int) float64 {
		block := trickledBlock(size)
		c, nc := newTrickled(t)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		trickle(t, c, nc, block)
		runtime.ReadMemStats(&after)
		return float64(after.TotalAlloc-before.TotalAlloc) / float64(size)
	}
	small, large := perByte(8<<10), perByte(48<<10)
	t.Logf("bytes allocated per byte of block: %.0f for 8 KB, %.0f for 48 KB", small, large)
	if large > small {
		t.Errorf("a trickled block of 48 KB allocated %.0f bytes per byte, one of 8 KB %.0f: the cost grows with the block's size", large, small)
	}
}

// newTrickled is a connection that reads from a trickleConn, past its
// SETTINGS frame; it closes when tb ends.
func newTrickled(tb testing.TB) (*conn, *trickleConn) {
	tb.Helper()
	nc := &trickleConn{}
	hs := &http.Server{MaxHeaderBytes: 64 << 10}
	c := newConn(new(Server), hs, nc, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), context.Background(), false)
	tb.Cleanup(func() { c.close(nil) })
	var settings bytes.Buffer
	http2.NewFramer(&settings, nil).WriteSettings() //nolint:errcheck // to memory
	nc.feed(settings.Bytes())
	if !c.readArrived(readFirst) {
		tb.Fatal("the connection ended at its SETTINGS")
	}
	return c, nc
}

// trickle feeds c frames 1 to 8 bytes per wake-up, the socket empty in
// between.
func trickle(tb testing.TB, c *conn, nc *trickleConn, frames []byte) {
	tb.Helper()
	for k := 0; len(frames) > 0; k++ {
		n := min(len(frames), 1+k%8)
		nc.feed(frames[:n])
		frames = frames[n:]
		if !c.readArrived(readFirst) {
			tb.Fatal("the connection ended")
		}
	}
}

// trickledBlock is a GET's header block of about size bytes on stream 1,
// in a HEADERS frame and CONTINUATION frames of 100 bytes.
func trickledBlock(size int) []byte {
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	enc.SetMaxDynamicTableSizeLimit(0) // literals only: the block is sent again and again
	for _, f := range []hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"}, {Name: ":path", Value: "/"}, {Name: ":authority", Value: "x"}} {
		enc.WriteField(f) //nolint:errcheck // to memory
	}
	for hb.Len() < size {
		enc.WriteField(hpack.HeaderField{Name: "x-pad", Value: strings.Repeat("p", 100)}) //nolint:errcheck // as above
	}
	var out bytes.Buffer
	fr := http2.NewFramer(&out, nil)
	frag := hb.Bytes()
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: frag[:100], EndStream: true}) //nolint:errcheck // to memory
	for frag = frag[100:]; len(frag) > 0; {
		n := min(len(frag), 100)
		fr.WriteContinuation(1, n == len(frag), frag[:n]) //nolint:errcheck // to memory
		frag = frag[n:]
	}
	return out.Bytes()
}

// trickleConn is a socket that holds the bytes fed to it: a read
// returns them, and the next read times out, as a socket emptied does.
type trickleConn struct{ next []byte }

func (t *trickleConn) feed(p []byte) { t.next = p }

func (t *trickleConn) Read(p []byte) (int, error) {
	if len(t.next) == 0 {
		return 0, os.ErrDeadlineExceeded
	}
	n := copy(p, t.next)
	t.next = t.next[n:]
	return n, nil
}

func (t *trickleConn) Write(p []byte) (int, error)      { return len(p), nil }
func (t *trickleConn) Close() error                     { return nil }
func (t *trickleConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (t *trickleConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (t *trickleConn) SetDeadline(time.Time) error      { return nil }
func (t *trickleConn) SetReadDeadline(time.Time) error  { return nil }
func (t *trickleConn) SetWriteDeadline(time.Time) error { return nil }
