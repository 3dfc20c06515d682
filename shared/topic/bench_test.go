package topic_test

import (
	"testing"

	"github.com/ssewasm/ssewasm/shared/topic"
)

// BenchmarkMayRead is the access check the broker runs per topic when a
// stream opens and when an identity is revoked.
func BenchmarkMayRead(b *testing.B) {
	set, err := topic.NewSet(Room, Inbox)
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"room", "user/alice", "user/alice/../bob", "news"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				set.MayRead("alice", name)
			}
		})
	}
}
