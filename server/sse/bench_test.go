package sse

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countWriter is a flushing ResponseWriter that counts frames and
// discards them.
type countWriter struct {
	nullWriter
	n atomic.Int64
}

func (w *countWriter) Write(p []byte) (int, error) {
	w.n.Add(1)
	return len(p), nil
}

// BenchmarkPublishFanout publishes to 1,000 in-process subscribers whose
// writers discard; allocs/op and B/op are per published event, and the
// delivered/op metric says how many deliveries that is. Per delivered
// event: allocs/op / 1000. The signed-in variant is issue 21's cost of
// grants: each subscriber has an identity that expires (so fan-out
// reads the clock for each event and compares each expiry) and a
// private topic of its own besides the shared one; the anonymous one has
// a public topic of its own instead, so that both hold two topics.
func BenchmarkPublishFanout(b *testing.B) {
	for _, clients := range []int{1, 1000} {
		for _, signedIn := range []bool{false, true} {
			name := fmt.Sprint(clients, "clients/anonymous")
			if signedIn {
				name = fmt.Sprint(clients, "clients/signed-in")
			}
			b.Run(name, func(b *testing.B) { benchFanout(b, clients, signedIn) })
		}
	}
}

func benchFanout(b *testing.B, clients int, signedIn bool) {
	opts := Options{MaxClients: -1, MaxClientsPerIP: -1, MaxLag: 1 << 30, Heartbeat: -1}
	if signedIn {
		opts.Identify, opts.MayRead = headerIdentity, ownTopics
	}
	br, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	expires := strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)
	for i := range clients {
		w := &countWriter{}
		own := fmt.Sprintf("solo/u%d", i)
		if signedIn {
			own = fmt.Sprintf("user/u%d", i)
		}
		r := newRequest(ctx, "topic=bench&topic="+own)
		if signedIn {
			r.Header = http.Header{"X-User": {fmt.Sprint("u", i)}, "X-Session": {fmt.Sprint("s", i)}, "X-Expires": {expires}}
		}
		wg.Go(func() { br.ServeHTTP(w, r) })
	}
	for br.Stats().Clients != clients {
		time.Sleep(time.Millisecond)
	}
	e := Event{Name: "update", Data: `{"price":42.5,"symbol":"ABC"}`}
	// Warm up: grow every queue's buffers.
	for range 100 {
		br.Publish(ctx, "bench", e)
	}
	for br.Stats().Delivered < uint64(100*clients) {
		time.Sleep(time.Millisecond)
	}
	before := br.Stats().Delivered
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := br.Publish(ctx, "bench", e); err != nil {
			b.Fatal(err)
		}
	}
	want := before + uint64(b.N*clients)
	for br.Stats().Delivered < want {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(clients), "delivered/op")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*clients), "ns/delivery")
	if s := br.Stats(); s.Evicted != 0 || s.Expired != 0 {
		b.Fatalf("%d evicted, %d expired", s.Evicted, s.Expired)
	}
	cancel()
	br.Shutdown(context.Background())
	wg.Wait()
}

// BenchmarkEncode measures the one encoding of an event at publish.
func BenchmarkEncode(b *testing.B) {
	m := NewMemoryEngine(MemoryOptions{HistorySize: 1024})
	e := Event{Name: "update", Data: `{"price":42.5,"symbol":"ABC"}`}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Publish(context.Background(), "t", e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishIdempotent compares a publish without a key, with a new
// key each time (the history of 10,000 is full, so each publish also
// forgets the oldest key), and a retry answered from the keys.
func BenchmarkPublishIdempotent(b *testing.B) {
	keys := make([]string, 1<<16) // reused only long after they left the history
	for i := range keys {
		keys[i] = fmt.Sprintf("8e03978e-40d5-43e8-bc93-%012d", i)
	}
	e := Event{Name: "update", Data: `{"price":42.5,"symbol":"ABC"}`}
	for _, c := range []struct {
		name string
		key  func(i int) string
	}{
		{"no-key", func(int) string { return "" }},
		{"new-key", func(i int) string { return keys[i%len(keys)] }},
		{"retry", func(int) string { return keys[0] }},
	} {
		b.Run(c.name, func(b *testing.B) {
			br, err := New(Options{Heartbeat: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer br.Shutdown(context.Background())
			ctx := context.Background()
			for i := range DefaultHistorySize { // a full history, with keys
				br.PublishWith(ctx, "bench", e, PublishOptions{IdempotencyKey: keys[(i+1)%len(keys)]})
			}
			br.PublishWith(ctx, "bench", e, PublishOptions{IdempotencyKey: keys[0]})
			b.ReportAllocs()
			i := DefaultHistorySize + 1
			for b.Loop() {
				if _, err := br.PublishWith(ctx, "bench", e, PublishOptions{IdempotencyKey: c.key(i)}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkIdleStreamHeap measures the heap an idle stream holds on the
// hijacked path (no goroutine), anonymous and signed in (issue 21: an
// identity may cost at most 0.5 KB more): b.N streams, each with a
// topic of its own besides a shared one, the client side raw
// connections in this process (the same for both), the heap measured
// after a GC. The signed-in streams have an identity that expires and
// a private topic.
func BenchmarkIdleStreamHeap(b *testing.B) {
	for _, signedIn := range []bool{false, true} {
		name := "anonymous"
		if signedIn {
			name = "signed-in"
		}
		b.Run(name, func(b *testing.B) {
			opts := Options{MaxClients: -1, MaxClientsPerIP: -1, Heartbeat: -1}
			if signedIn {
				opts.Identify, opts.MayRead = headerIdentity, ownTopics
			}
			br, srv := newTestBroker(b, hijackMode, opts)
			addr := strings.TrimPrefix(srv.URL, "http://")
			expires := strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			before := ms.HeapAlloc
			conns := make([]net.Conn, 0, b.N)
			for i := range b.N {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				conns = append(conns, c)
				req := fmt.Sprintf("GET /events?topic=shared&topic=solo/u%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
				if signedIn {
					req = fmt.Sprintf("GET /events?topic=shared&topic=user/u%d HTTP/1.1\r\nHost: x\r\nX-User: u%d\r\nX-Session: session-%022d\r\nX-Expires: %s\r\n\r\n", i, i, i, expires)
				}
				io.WriteString(c, req)
			}
			for br.Stats().Clients != b.N {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond) // the handlers return
			runtime.GC()
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(int64(ms.HeapAlloc)-int64(before))/float64(b.N), "heap-B/stream")
			for _, c := range conns {
				c.Close()
			}
		})
	}
}
