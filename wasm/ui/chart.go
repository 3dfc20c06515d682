package ui

import (
	"strconv"
	"strings"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/ssewasm/ssewasm/shared/demo"
)

const svgNS = "http://www.w3.org/2000/svg"

// Chart geometry, in SVG user units.
const (
	chartW   = 240
	chartH   = 64
	chartPad = 3
)

// chart draws one figure of the last chartSpan seconds as an SVG line,
// scaled from zero to a little above its largest value, with the latest
// value printed above it. It writes numbers only into the SVG: no text from
// the network reaches markup.
func chart(id, title string, points []demo.ServerStats, decimals int, value func(demo.ServerStats) float64) app.UI {
	latest := "–"
	if n := len(points); n > 0 {
		latest = strconv.FormatFloat(value(points[n-1]), 'f', decimals, 64)
	}
	return el("figure").ID("chart-"+id).Class("chart").DataSet("points", len(points)).Body(
		el("figcaption").Body(
			el("span").Class("label").Text(title),
			el("span").Class("value").Text(latest),
		),
		app.Elem("svg").XMLNS(svgNS).Attr("viewBox", "0 0 "+strconv.Itoa(chartW)+" "+strconv.Itoa(chartH)).
			Attr("preserveAspectRatio", "none").Attr("role", "img").Attr("aria-label", title+", last 60 seconds").Body(
			app.Elem("polyline").XMLNS(svgNS).Attr("class", "line").Attr("points", polyline(points, value)),
		),
	)
}

// polyline maps the points to "x,y x,y …", oldest on the left, spread
// over the whole width.
func polyline(points []demo.ServerStats, value func(demo.ServerStats) float64) string {
	if len(points) == 0 {
		return ""
	}
	top := 0.0
	for _, p := range points {
		top = max(top, value(p))
	}
	if top == 0 {
		top = 1
	}
	top *= 1.1
	var b strings.Builder
	step := float64(chartW) / float64(max(len(points)-1, 1))
	for i, p := range points {
		x := float64(i) * step
		y := chartPad + (chartH-2*chartPad)*(1-value(p)/top)
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatFloat(x, 'f', 1, 64))
		b.WriteByte(',')
		b.WriteString(strconv.FormatFloat(y, 'f', 1, 64))
	}
	return b.String()
}
