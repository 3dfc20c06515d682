package main

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strings"
)

// plot is a few line charts stacked over one time axis, with vertical
// markers (the faults) across all of them.
type plot struct {
	Title   string
	XLabel  string  // the time axis, e.g. "minutes"
	XMax    float64 // the axis runs from 0 to XMax
	Panels  []panel
	Markers []marker
}

type panel struct {
	Title  string
	Series []series
}

type series struct {
	Name string
	X, Y []float64 // NaN in Y breaks the line
}

type marker struct {
	X     float64
	Label string
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"}

// Layout, in SVG user units.
const (
	svgWidth    = 960
	panelHeight = 150
	panelGap    = 38
	marginLeft  = 70
	marginRight = 150 // the legend
	marginTop   = 60
	marginBot   = 40
)

// writeSVG draws p as a standalone SVG document.
func writeSVG(w io.Writer, p plot) error {
	bw := bufio.NewWriter(w)
	plotW := float64(svgWidth - marginLeft - marginRight)
	height := marginTop + len(p.Panels)*(panelHeight+panelGap) + marginBot
	fmt.Fprintf(bw, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", svgWidth, height, svgWidth, height)
	fmt.Fprintf(bw, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(bw, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", marginLeft, esc(p.Title))
	xmax := p.XMax
	if xmax <= 0 {
		xmax = 1
	}
	xpos := func(x float64) float64 { return marginLeft + x/xmax*plotW }
	top := float64(marginTop)
	bottom := top + float64(len(p.Panels)*(panelHeight+panelGap)) - panelGap
	// Markers across every panel, labelled at the top.
	for i, m := range p.Markers {
		x := xpos(m.X)
		fmt.Fprintf(bw, `<line class="marker" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999" stroke-dasharray="4,3"/>`+"\n", x, top-8, x, bottom)
		y := 36 + float64(i%2)*11 // alternate rows, so close labels do not overlap
		fmt.Fprintf(bw, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555">%s</text>`+"\n", x, y, esc(m.Label))
	}
	for pi, pn := range p.Panels {
		y0 := top + float64(pi*(panelHeight+panelGap))
		ymax := 0.0
		for _, s := range pn.Series {
			for _, v := range s.Y {
				if !math.IsNaN(v) && !math.IsInf(v, 0) {
					ymax = max(ymax, v)
				}
			}
		}
		step, ymax := niceScale(ymax)
		ypos := func(v float64) float64 { return y0 + panelHeight - v/ymax*panelHeight }
		fmt.Fprintf(bw, `<g class="panel">`+"\n")
		fmt.Fprintf(bw, `<text x="%d" y="%.1f" font-weight="bold">%s</text>`+"\n", marginLeft, y0-6, esc(pn.Title))
		fmt.Fprintf(bw, `<rect x="%d" y="%.1f" width="%.1f" height="%d" fill="none" stroke="#ccc"/>`+"\n", marginLeft, y0, plotW, panelHeight)
		for v := 0.0; v <= ymax+step/2; v += step {
			y := ypos(v)
			fmt.Fprintf(bw, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", marginLeft, y, marginLeft+plotW, y)
			fmt.Fprintf(bw, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", marginLeft-5, y+4, esc(fmtTick(v)))
		}
		for si, s := range pn.Series {
			color := palette[si%len(palette)]
			for _, pts := range polylines(s, xpos, ypos) {
				fmt.Fprintf(bw, `<polyline class="series" data-name="%s" fill="none" stroke="%s" stroke-width="1.4" points="%s"/>`+"\n", esc(s.Name), color, pts)
			}
			ly := y0 + 12 + float64(si)*14
			lx := marginLeft + plotW + 10
			fmt.Fprintf(bw, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/>`+"\n", lx, ly-4, lx+16, ly-4, color)
			fmt.Fprintf(bw, `<text x="%.1f" y="%.1f">%s</text>`+"\n", lx+20, ly, esc(s.Name))
		}
		fmt.Fprintf(bw, "</g>\n")
	}
	// The shared time axis under the last panel.
	xstep, _ := niceScale(xmax)
	for x := 0.0; x <= xmax+xstep/1000; x += xstep {
		fmt.Fprintf(bw, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999"/>`+"\n", xpos(x), bottom, xpos(x), bottom+4)
		fmt.Fprintf(bw, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", xpos(x), bottom+16, esc(fmtTick(x)))
	}
	fmt.Fprintf(bw, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", marginLeft+plotW/2, bottom+32, esc(p.XLabel))
	fmt.Fprintf(bw, "</svg>\n")
	return bw.Flush()
}

// polylines returns the points attributes of s's line, broken at NaNs.
func polylines(s series, xpos, ypos func(float64) float64) []string {
	var out []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			out = append(out, strings.TrimSpace(b.String()))
			b.Reset()
		}
	}
	for i := range s.X {
		if i >= len(s.Y) || math.IsNaN(s.Y[i]) || math.IsInf(s.Y[i], 0) {
			flush()
			continue
		}
		fmt.Fprintf(&b, "%.1f,%.1f ", xpos(s.X[i]), ypos(s.Y[i]))
	}
	flush()
	return out
}

// niceScale returns a tick step of 1, 2 or 5 times a power of ten that
// divides [0, max] into at most 5 steps, and the axis top, a multiple of
// it.
func niceScale(v float64) (step, top float64) {
	if v <= 0 || math.IsNaN(v) {
		return 1, 1
	}
	raw := v / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if step = m * mag; step >= raw {
			break
		}
	}
	return step, math.Ceil(v/step) * step
}

// fmtTick writes a tick value briefly: 1500 as 1.5k, 0.25 as 0.25.
func fmtTick(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v/1e6), "0"), ".") + "M"
	case a >= 1e4:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", v/1e3), "0"), ".") + "k"
	default:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
	}
}

// esc escapes text for XML character data and attribute values.
func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
