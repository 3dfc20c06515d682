package sse_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/shared/topic"
)

func ExampleBroker() {
	// A fixed epoch makes the IDs printable; leave it empty in real use.
	b, err := sse.New(sse.Options{Engine: sse.NewMemoryEngine(sse.MemoryOptions{Epoch: "demo"})})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(b)
	defer srv.Close()
	defer b.Shutdown(context.Background()) // before srv.Close, which waits for streams

	ctx := context.Background()
	b.Publish(ctx, "news", sse.Event{Name: "headline", Data: "first"})
	b.Publish(ctx, "sport", sse.Event{Name: "score", Data: "1-0"})
	b.Publish(ctx, "news", sse.Event{Name: "headline", Data: "second"})

	// A client that saw demo-1 reconnects: it gets the news it missed.
	req, _ := http.NewRequest("GET", srv.URL+"/events?topic=news", nil)
	req.Header.Set("Last-Event-ID", "demo-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	d := sse.NewDecoder(bufio.NewReader(resp.Body))
	e, _ := d.Next()
	fmt.Printf("replayed %s %s: %s\n", e.ID, e.Name, e.Data)

	// Then live events follow.
	b.Publish(ctx, "news", sse.Event{Name: "headline", Data: "third"})
	e, _ = d.Next()
	fmt.Printf("live %s %s: %s\n", e.ID, e.Name, e.Data)

	// A client with an ID from another run learns that it missed events.
	req, _ = http.NewRequest("GET", srv.URL+"/events?topic=news&lastEventId=old-7", nil)
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp2.Body.Close()
	e, _ = sse.NewDecoder(resp2.Body).Next()
	fmt.Printf("%s %s: %s\n", e.Name, e.ID, e.Data)
	// Output:
	// replayed demo-3 headline: second
	// live demo-4 headline: third
	// sse.gap demo-4: {"lastEventId":"old-7","reason":"unknown"}
}

// Run a broker in an http.Server: stop it from RegisterOnShutdown, since
// http.Server.Shutdown waits for open streams, which never end by
// themselves.
func ExampleBroker_Shutdown() {
	b, err := sse.New(sse.Options{
		Retry: 3 * time.Second,
		Authorize: func(r *http.Request, topics []string) error {
			for _, t := range topics {
				if t == "admin" && r.Header.Get("Authorization") != "Bearer secret" {
					return &sse.StatusError{Code: http.StatusUnauthorized, Err: fmt.Errorf("topic %s: log in first", t)}
				}
			}
			return nil
		},
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /events", b)
	srv := &http.Server{Addr: "localhost:0", Handler: mux} // no WriteTimeout: the broker bounds each write
	srv.RegisterOnShutdown(func() { b.Shutdown(context.Background()) })

	// ... srv.ListenAndServe() in a goroutine, then on a signal:
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fmt.Println(srv.Shutdown(ctx))
	fmt.Println(b.Shutdown(ctx)) // waits for the streams' handlers
	// Output:
	// <nil>
	// <nil>
}

// A publisher that did not get its answer (a timeout, a dropped
// connection) retries with the same idempotency key: the event is
// stored and delivered once, and both tries get its ID.
func ExampleBroker_PublishWith() {
	b, err := sse.New(sse.Options{Engine: sse.NewMemoryEngine(sse.MemoryOptions{Epoch: "demo"})})
	if err != nil {
		panic(err)
	}
	defer b.Shutdown(context.Background())

	ctx := context.Background()
	order := sse.Event{Name: "order", Data: `{"item":"tea"}`}
	opts := sse.PublishOptions{IdempotencyKey: "order-7f3a"} // one per event, made by the publisher
	first, _ := b.PublishWith(ctx, "orders", order, opts)
	retry, _ := b.PublishWith(ctx, "orders", order, opts)
	fmt.Printf("first %s, duplicate %v\n", first.ID, first.Duplicate)
	fmt.Printf("retry %s, duplicate %v\n", retry.ID, retry.Duplicate)
	fmt.Println("stored", b.Stats().Published)

	// The same key for another event is refused: nothing is lost in silence.
	_, err = b.PublishWith(ctx, "orders", sse.Event{Name: "order", Data: `{"item":"cake"}`}, opts)
	fmt.Println(errors.Is(err, sse.ErrIdempotencyKeyReused))
	// Output:
	// first demo-1, duplicate false
	// retry demo-1, duplicate true
	// stored 1
	// true
}

// A stream made for each client, which no topic could carry, counted
// under the broker's limits like its topic streams: here a greeting
// with the client's own address, then the client's clock ticks.
func ExampleBroker_ServeStream() {
	b, err := sse.New(sse.Options{MaxClientsPerIP: 1})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /events", b)
	mux.HandleFunc("GET /clock", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*") // sent with the stream
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		b.ServeStream(w, r, func(s *sse.Stream) error {
			if err := s.Send(sse.Event{Name: "welcome", Data: "hello " + host}); err != nil {
				return err
			}
			for i := range 2 {
				select {
				case <-s.Context().Done(): // the client left, or Shutdown
					return nil
				case <-time.After(10 * time.Millisecond):
				}
				if err := s.Send(sse.Event{Data: fmt.Sprint("tick ", i)}); err != nil {
					return err // an error wrapping sse.ErrNotReading evicts the client
				}
			}
			<-s.Context().Done()
			return nil
		})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer b.Shutdown(context.Background()) // ends the stream, before srv.Close

	resp, err := http.Get(srv.URL + "/clock")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	d := sse.NewDecoder(resp.Body)
	for range 3 {
		e, _ := d.Next()
		fmt.Printf("%q %s\n", e.Name, e.Data)
	}
	// The clock stream counts under MaxClientsPerIP: no topic stream
	// from the same address.
	resp2, err := http.Get(srv.URL + "/events")
	if err != nil {
		panic(err)
	}
	resp2.Body.Close()
	fmt.Println(resp2.Status, "clients:", b.Stats().Clients)
	// Output:
	// "welcome" hello 127.0.0.1
	// "" tick 0
	// "" tick 1
	// 503 Service Unavailable clients: 1
}

// Private topics: Options.Identify says who a stream is for (here a
// header; in an app, its session cookie), Options.MayRead which topics
// it may read (here from shared/topic declarations). Revoke takes an
// identity's grants away from its open streams: the private topic
// stops, the public one keeps flowing on the same stream.
func ExampleBroker_Revoke() {
	names := topic.NewKeySyntax("user name", "a-z", "a-z0-9", 32)
	inbox := topic.NewFamily[note]("user/", names, topic.Owner)
	set, err := topic.NewSet(inbox)
	if err != nil {
		panic(err)
	}
	b, err := sse.New(sse.Options{
		Identify: func(r *http.Request) (sse.Identity, error) {
			return sse.Identity{Subject: r.Header.Get("X-User"), Session: r.Header.Get("X-Session")}, nil
		},
		MayRead: func(id sse.Identity, name string) bool {
			declared, ok := set.MayRead(id.Subject, name)
			return ok || !declared // undeclared topics are public
		},
	})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(b)
	defer srv.Close()
	defer b.Shutdown(context.Background())

	open := func(user string) *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+"/events?topic=news&topic=user/alice", nil)
		req.Header.Set("X-User", user)
		req.Header.Set("X-Session", "s-"+user)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		return resp
	}
	bob := open("bob") // not his inbox: refused before any byte
	bob.Body.Close()
	fmt.Println("bob:", bob.Status)
	alice := open("alice")
	defer alice.Body.Close()
	fmt.Println("alice:", alice.Status)

	ctx := context.Background()
	d := sse.NewDecoder(alice.Body)
	show := func() {
		e, _ := d.Next()
		fmt.Printf("%s: %s\n", e.Name, e.Data)
	}
	aliceInbox, _ := inbox.For("alice")
	sse.PublishTo(ctx, b, aliceInbox, note{Text: "for alice"})
	show()
	b.Revoke(ctx, sse.Revocation{Session: "s-alice", Until: time.Now().Add(time.Hour)}) // she signed out
	sse.PublishTo(ctx, b, aliceInbox, note{Text: "not delivered"})
	b.Publish(ctx, "news", sse.Event{Data: "still flowing"})
	show()
	show()
	// Output:
	// bob: 403 Forbidden
	// alice: 200 OK
	// note: {"text":"for alice"}
	// sse.revoked: {"topics":["user/alice"]}
	// : still flowing
}

// note is the payload of the example's inbox topics.
type note struct {
	Text string `json:"text"`
}

func (note) EventName() string { return "note" }
