package sse

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"testing"
)

// fill copies up to one record's worth of frames, in order, splitting a
// frame that does not fit, and never modifies the frames.
func TestFill(t *testing.T) {
	big := bytes.Repeat([]byte("x"), tlsChunk+10)
	for _, tc := range []struct {
		name   string
		bufs   [][]byte
		chunks []int // lengths of the chunks, in order
	}{
		{"empty", nil, nil},
		{"small", [][]byte{[]byte("a"), []byte("bc")}, []int{3}},
		{"exact", [][]byte{big[:tlsChunk]}, []int{tlsChunk}},
		{"split", [][]byte{[]byte("ab"), big}, []int{tlsChunk, 12}},
		{"empty frame", [][]byte{{}, []byte("a")}, []int{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []byte
			for _, b := range tc.bufs {
				want = append(want, b...)
			}
			before := string(big)
			bufs := net.Buffers(tc.bufs)
			var got []byte
			var lens []int
			for len(bufs) > 0 {
				var chunk []byte
				chunk, bufs = fill(nil, bufs)
				if len(chunk) == 0 {
					break
				}
				lens = append(lens, len(chunk))
				got = append(got, chunk...)
			}
			if !bytes.Equal(got, want) || len(lens) != len(tc.chunks) {
				t.Fatalf("chunks %v (%d bytes), want %v (%d bytes)", lens, len(got), tc.chunks, len(want))
			}
			for i := range lens {
				if lens[i] != tc.chunks[i] {
					t.Errorf("chunk %d: %d bytes, want %d", i, lens[i], tc.chunks[i])
				}
			}
			if string(big) != before {
				t.Error("fill modified a frame")
			}
		})
	}
}

func ExampleTLSListener() {
	b, _ := New(Options{})
	srv := &http.Server{Handler: b}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return
	}
	// HTTP/1.1 streams over TLS are then hijacked and written by the
	// broker's writers without blocking; HTTP/2 is served as before.
	go srv.ServeTLS(TLSListener(ln), "cert.pem", "key.pem") //nolint:errcheck // an example
	srv.Close()
	b.Shutdown(context.Background()) //nolint:errcheck // an example
}
