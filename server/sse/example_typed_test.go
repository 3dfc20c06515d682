package sse_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/shared/topic"
)

// Score is an event both binaries compile: its name and payload type.
type Score struct {
	Team   string `json:"team"`
	Points int    `json:"points"`
}

func (Score) EventName() string { return "score" }

// Scores is the topic of Score events, declared once for both binaries.
var Scores = topic.New[Score]("scores", topic.Public)

func ExamplePublishTo() {
	b, err := sse.New(sse.Options{Engine: sse.NewMemoryEngine(sse.MemoryOptions{Epoch: "demo"})})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(b)
	defer srv.Close()
	defer b.Shutdown(context.Background())

	resp, err := http.Get(srv.URL + "/events?" + topic.Query(Scores))
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()

	// The topic fixes the type: PublishTo(ctx, b, Scores, "3-1") does not build.
	id, err := sse.PublishTo(context.Background(), b, Scores, Score{Team: "blue", Points: 3})
	fmt.Println(id, err)
	e, _ := sse.NewDecoder(resp.Body).Next()
	fmt.Printf("%s %s: %s\n", e.ID, e.Name, e.Data)
	// Output:
	// demo-1 <nil>
	// demo-1 score: {"team":"blue","points":3}
}
