package eventsource_test

import (
	"strings"
	"testing"

	"github.com/ssewasm/ssewasm/wasm/eventsource"
)

// TestEarlyScriptEscapes: the page, stream and event names go into the
// script as JSON strings with <, > and & escaped, so none can end the
// script element or inject markup.
func TestEarlyScriptEscapes(t *testing.T) {
	s := eventsource.EarlyScript("/</script>", "/s?a=1&b=</script><img src=x>", "tick</script>")
	body, ok := strings.CutPrefix(s, "<script>")
	body, ok2 := strings.CutSuffix(body, "</script>")
	if !ok || !ok2 {
		t.Fatalf("not one script element: %q", s)
	}
	// No "<" at all: neither "</script" nor "<!--" can occur.
	if strings.Contains(body, "<") {
		t.Errorf("the script's body holds a <, which could end it: %q", body)
	}
	for _, want := range []string{`"/\u003c/script\u003e"`, `"/s?a=1\u0026b=\u003c/script\u003e\u003cimg src=x\u003e"`, `"tick\u003c/script\u003e"`, `"sse.gap"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the script lacks %s", want)
		}
	}
}
