package h2

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// seedFrames returns frames a client might send after the preface: its
// SETTINGS, a GET, a POST with a body in two DATA frames, a header block
// in CONTINUATION frames, PING, WINDOW_UPDATE, RST_STREAM.
func seedFrames(t testing.TB) [][]byte {
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range []hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"}, {Name: ":path", Value: "/"}, {Name: ":authority", Value: "x"}} {
		enc.WriteField(f) //nolint:errcheck // to memory
	}
	get := append([]byte(nil), block.Bytes()...)
	block.Reset()
	for _, f := range []hpack.HeaderField{{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "https"}, {Name: ":path", Value: "/p"}, {Name: "content-length", Value: "6"}} {
		enc.WriteField(f) //nolint:errcheck // to memory
	}
	post := append([]byte(nil), block.Bytes()...)
	frames := func(write func(fr *http2.Framer)) []byte {
		var b bytes.Buffer
		fr := http2.NewFramer(&b, nil)
		fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20}) //nolint:errcheck // to memory
		write(fr)
		return b.Bytes()
	}
	return [][]byte{
		frames(func(*http2.Framer) {}),
		frames(func(fr *http2.Framer) {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: get, EndStream: true, EndHeaders: true}) //nolint:errcheck // to memory
		}),
		frames(func(fr *http2.Framer) {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: post, EndHeaders: true}) //nolint:errcheck // to memory
			fr.WriteData(1, false, []byte("abc"))                                                        //nolint:errcheck // to memory
			fr.WriteData(1, true, []byte("def"))                                                         //nolint:errcheck // to memory
		}),
		frames(func(fr *http2.Framer) {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: get[:2]}) //nolint:errcheck // to memory
			fr.WriteContinuation(1, false, get[2:4])                                      //nolint:errcheck // to memory
			fr.WriteContinuation(1, true, get[4:])                                        //nolint:errcheck // to memory
		}),
		frames(func(fr *http2.Framer) {
			fr.WritePing(false, [8]byte{1})                                                                               //nolint:errcheck // to memory
			fr.WriteWindowUpdate(0, 1000)                                                                                 //nolint:errcheck // to memory
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: get, EndStream: false, EndHeaders: true}) //nolint:errcheck // to memory
			fr.WriteRSTStream(3, http2.ErrCodeCancel)                                                                     //nolint:errcheck // to memory
		}),
	}
}

// FuzzConn feeds what a client sends after the preface to a connection
// and checks that it neither panics nor hangs: the connection ends once
// the client has gone, within seconds, whatever it sent.
//
//	go test ./server/h2 -run NONE -fuzz FuzzConn -fuzztime 1m
func FuzzConn(f *testing.F) {
	for _, s := range seedFrames(f) {
		f.Add(s)
	}
	f.Add([]byte("\x00\x00\x05\x02\x00\x00\x00\x00\x01\x00\x00\x00\x01\x10")) // PRIORITY on itself
	f.Fuzz(func(t *testing.T, data []byte) {
		client, server := net.Pipe()
		srv := new(Server)
		done := make(chan struct{})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body) //nolint:errcheck // whatever came
			io.WriteString(w, "ok")     //nolint:errcheck // the client may be gone
		})
		go func() {
			srv.ServeConn(server, nil, h)
			close(done)
		}()
		go io.Copy(io.Discard, client)                           //nolint:errcheck // what the server writes, until the close
		client.SetWriteDeadline(time.Now().Add(2 * time.Second)) //nolint:errcheck // a server that stops reading ends the write
		client.Write([]byte(clientPreface))                      //nolint:errcheck // as above
		client.Write(data)                                       //nolint:errcheck // as above
		client.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("the connection did not end after the client left; it sent %q", data)
		}
	})
}

// unitLen never reports more than it has, nor less than a frame header;
// and the bytes arriving in two parts (unitLen going on from where it
// stopped in the first) give the same unit as all at once.
func FuzzUnitLen(f *testing.F) {
	for _, s := range seedFrames(f) {
		f.Add(s, uint16(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, buf []byte, cut uint16) {
		n, next := unitLen(buf, 0)
		if n < 0 || n > len(buf) || n > 0 && n < 9 || n > 0 && next != 0 || next > len(buf) {
			t.Fatalf("unitLen = %d, %d of %d bytes", n, next, len(buf))
		}
		k := int(cut) % (len(buf) + 1)
		if n1, next1 := unitLen(buf[:k], 0); n1 == 0 {
			if n2, _ := unitLen(buf, next1); n2 != n {
				t.Fatalf("unitLen of %d bytes, then of %d from %d: %d, want %d", k, len(buf), next1, n2, n)
			}
		}
	})
}
