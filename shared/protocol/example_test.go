package protocol_test

import (
	"fmt"

	"github.com/ssewasm/ssewasm/shared/protocol"
)

func Example() {
	id := protocol.FormatID("k3x9q2ab", 42)
	epoch, seq, _ := protocol.ParseID(id)
	fmt.Println(id, epoch, seq)

	// A history of epoch k3x9q2ab that keeps events 40 to 50.
	for _, last := range []string{id, "k3x9q2ab-7", "other-42", "42"} {
		after, gap := protocol.Classify(last, "k3x9q2ab", 40, 50)
		fmt.Printf("%s: after %d, gap %q\n", last, after, gap)
	}
	// Output:
	// k3x9q2ab-42 k3x9q2ab 42
	// k3x9q2ab-42: after 42, gap ""
	// k3x9q2ab-7: after 0, gap "expired"
	// other-42: after 0, gap "unknown"
	// 42: after 0, gap "malformed"
}
