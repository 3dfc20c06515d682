package sse_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/ssewasm/ssewasm/server/sse"
)

func ExampleWriteEvent() {
	events := []sse.Event{
		{Name: "connecttime", Data: "2026-01-01T00:00:00Z", Retry: 10 * time.Second},
		{ID: "2", Data: "two\nlines"},
		{ID: "bad\nid", Data: "never sent"},
	}
	for _, e := range events {
		if err := sse.WriteEvent(os.Stdout, e); err != nil {
			fmt.Println("error:", err)
		}
	}
	// Output:
	// retry: 10000
	// event: connecttime
	// data: 2026-01-01T00:00:00Z
	//
	// id: 2
	// data: two
	// data: lines
	//
	// error: sse: invalid event ID "bad\nid": LF at byte 3; an ID must be a single line without NUL, so encode it (for example as hex or base64) before sending
}

func ExampleDecoder() {
	// The example stream from the spec: a comment, then three events; the
	// last is not ended by a blank line, so it is never dispatched.
	const stream = ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n"
	d := sse.NewDecoder(strings.NewReader(stream))
	d.OnComment = func(text string) { fmt.Printf("comment %q\n", text) }
	for {
		e, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Printf("event %q id %q data %q\n", e.Name, e.ID, e.Data)
	}
	// Output:
	// comment "test stream"
	// event "" id "1" data "first event"
	// event "" id "" data "second event"
}

func ExampleNewStream() {
	handler := func(w http.ResponseWriter, r *http.Request) {
		s, err := sse.NewStream(w, r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if err := s.Retry(10 * time.Second); err != nil {
			return
		}
		for i := range 3 {
			select {
			case <-s.Context().Done():
				return // the client left
			default:
			}
			if err := s.Send(sse.Event{ID: fmt.Sprint(i), Name: "tick", Data: fmt.Sprint("tick ", i)}); err != nil {
				return
			}
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(handler))
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	fmt.Println(resp.Header.Get("Content-Type"))
	d := sse.NewDecoder(resp.Body)
	for {
		e, err := d.Next()
		if err != nil {
			break // io.EOF: the handler returned
		}
		fmt.Printf("%s #%s: %s (retry %v)\n", e.Name, e.ID, e.Data, e.Retry)
	}
	// Output:
	// text/event-stream; charset=utf-8
	// tick #0: tick 0 (retry 10s)
	// tick #1: tick 1 (retry 10s)
	// tick #2: tick 2 (retry 10s)
}
