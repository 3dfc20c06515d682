package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
)

func TestWriteSVG(t *testing.T) {
	p := plot{
		Title: `soak <&> "test"`, XLabel: "minutes", XMax: 3,
		Panels: []panel{
			{Title: "RSS, MB", Series: []series{
				{Name: "instance a", X: []float64{0, 1, 2, 3}, Y: []float64{10, 11, 12, 13}},
				{Name: "instance c", X: []float64{0, 1, 2, 3}, Y: []float64{10, math.NaN(), 12, 13}}, // down at 1: two lines
			}},
			{Title: "p99, ms", Series: []series{{Name: "p99", X: []float64{0, 1, 2, 3}, Y: []float64{1, 2, 1, 2}}}},
		},
		Markers: []marker{{X: 1, Label: "kill"}, {X: 2, Label: "flood"}},
	}
	var b bytes.Buffer
	if err := writeSVG(&b, p); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&b)
	lines := map[string]int{}
	markers, panels := 0, 0
	var texts []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, b.String())
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			attr := map[string]string{}
			for _, a := range tok.Attr {
				attr[a.Name.Local] = a.Value
			}
			switch {
			case tok.Name.Local == "polyline" && attr["class"] == "series":
				lines[attr["data-name"]]++
				if n := len(strings.Fields(attr["points"])); n < 1 {
					t.Errorf("series %s: a line without points", attr["data-name"])
				}
			case tok.Name.Local == "line" && attr["class"] == "marker":
				markers++
			case tok.Name.Local == "g" && attr["class"] == "panel":
				panels++
			}
		case xml.CharData:
			texts = append(texts, string(tok))
		}
	}
	if lines["instance a"] != 1 || lines["instance c"] != 2 || lines["p99"] != 1 {
		t.Errorf("polylines per series = %v; want a 1, c 2 (broken at NaN), p99 1", lines)
	}
	if markers != 2 || panels != 2 {
		t.Errorf("%d markers and %d panels, want 2 and 2", markers, panels)
	}
	all := strings.Join(texts, "|")
	for _, want := range []string{`soak <&> "test"`, "kill", "flood", "RSS, MB", "minutes"} {
		if !strings.Contains(all, want) {
			t.Errorf("no text %q in the SVG", want)
		}
	}
}

func TestNiceScale(t *testing.T) {
	for _, tc := range []struct{ v, step, top float64 }{
		{0, 1, 1}, {9, 2, 10}, {30, 10, 30}, {31, 10, 40}, {0.7, 0.2, 0.8}, {1234, 500, 1500},
	} {
		step, top := niceScale(tc.v)
		if math.Abs(step-tc.step) > 1e-9 || math.Abs(top-tc.top) > 1e-9 {
			t.Errorf("niceScale(%v) = %v, %v; want %v, %v", tc.v, step, top, tc.step, tc.top)
		}
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 42
ssewasm_clients 7
ssewasm_refused_total{reason="conn_cap"} 3
ssewasm_refused_total{reason="method"} 2
ssewasm_clients_evicted_total 1.5e+01
`
	m, err := parseMetrics(strings.NewReader(text), "go_goroutines", "ssewasm_clients", "ssewasm_refused_total", "ssewasm_clients_evicted_total", "absent")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"go_goroutines": 42, "ssewasm_clients": 7, "ssewasm_refused_total": 5, "ssewasm_clients_evicted_total": 15}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if _, ok := m["absent"]; ok {
		t.Error("absent metric reported")
	}
}

func TestEvictionCounterAcrossRestarts(t *testing.T) {
	e := evictionCounter{last: make([]float64, 2), base: make([]float64, 2)}
	for _, v := range []float64{1, 5, 2, 4} { // restarted after 5
		e.update(0, v)
	}
	e.update(1, 3)
	if got := e.total(); got != 12 {
		t.Errorf("total = %v, want 5 + 4 + 3", got)
	}
}
