package flame

import (
	"bufio"
	"cmp"
	"encoding/xml"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"slices"
	"strings"
)

// The SVG's geometry, in pixels.
const (
	svgWidth    = 1200
	sidePad     = 10
	frameArea   = svgWidth - 2*sidePad // the width the root frame spans
	frameHeight = 16
	topPad      = 50 // title and buttons
	bottomPad   = 30 // the hover details and search result line
	fontSize    = 12
	// charWidth is the average glyph width of the font at fontSize, used
	// to truncate labels without measuring text.
	charWidth = 0.59 * fontSize
	// minFraction is the share of all samples below which a frame (and
	// what it calls) is left out: it would be under a pixel or two wide.
	minFraction = 0.001
)

// node is a frame in the merged call tree.
type node struct {
	name     string
	value    uint64 // the samples in which this frame is on the stack here
	children []*node
	index    map[string]*node
}

func (n *node) child(name string) *node {
	if c, ok := n.index[name]; ok {
		return c
	}
	c := &node{name: name, index: map[string]*node{}}
	n.index[name] = c
	n.children = append(n.children, c)
	return c
}

// tree merges the samples into a call tree under a root named "all", each
// node's children sorted by name as flame graphs draw them.
func tree(samples []Sample) *node {
	root := &node{name: "all", index: map[string]*node{}}
	for _, s := range merge(samples) {
		root.value += s.Value
		n := root
		for _, f := range s.Frames {
			n = n.child(f)
			n.value += s.Value
		}
	}
	var sortChildren func(*node)
	sortChildren = func(n *node) {
		slices.SortFunc(n.children, func(a, b *node) int { return cmp.Compare(a.name, b.name) })
		for _, c := range n.children {
			sortChildren(c)
		}
	}
	sortChildren(root)
	return root
}

// frame is one drawn rectangle: start and value are in samples.
type frame struct {
	name         string
	depth        int
	start, value uint64
}

// layout places the frames wide enough to draw, root first, each before
// its children.
func layout(root *node) (frames []frame, maxDepth int) {
	minValue := float64(root.value) * minFraction
	var walk func(n *node, depth int, start uint64)
	walk = func(n *node, depth int, start uint64) {
		if float64(n.value) < minValue {
			return
		}
		frames = append(frames, frame{name: n.name, depth: depth, start: start, value: n.value})
		maxDepth = max(maxDepth, depth)
		for _, c := range n.children {
			walk(c, depth+1, start)
			start += c.value
		}
	}
	walk(root, 0, 0)
	return frames, maxDepth
}

// SVG writes the samples as a self-contained interactive flame graph:
// callers below callees, widths proportional to samples. Hovering a frame
// shows its name, samples and share; clicking zooms into it; Search
// highlights the frames matching a regular expression and says what share
// of the samples they cover.
func SVG(w io.Writer, samples []Sample, title string) error {
	root := tree(samples)
	frames, maxDepth := layout(root)
	if root.value == 0 {
		frames, maxDepth = nil, -1
	}
	height := topPad + (maxDepth+1)*frameHeight + bottomPad
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<svg version="1.1" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">
<style>
text { font-family: Verdana, Arial, sans-serif; font-size: %dpx; fill: #000; }
#title { font-size: 17px; text-anchor: middle; }
#search, #matched { text-anchor: end; }
.button { cursor: pointer; fill: #224; text-decoration: underline; }
.f { cursor: pointer; }
.f:hover rect { stroke: #000; stroke-width: 0.5; }
.f text { pointer-events: none; }
.anc rect { opacity: 0.6; }
.match rect { fill: rgb(225,0,225); }
.hide { display: none; }
</style>
<defs><linearGradient id="bg" x1="0" y1="0" x2="0" y2="1"><stop offset="5%%" stop-color="#eeeeee"/><stop offset="95%%" stop-color="#eeeeb0"/></linearGradient></defs>
<rect x="0" y="0" width="100%%" height="100%%" fill="url(#bg)"/>
<text id="title" x="%d" y="24">%s</text>
<text id="reset" class="button hide" x="%d" y="24">Reset Zoom</text>
<text id="search" class="button" x="%d" y="24">Search</text>
<text id="details" x="%d" y="%d"> </text>
<text id="matched" x="%d" y="%d"> </text>
`, svgWidth, height, svgWidth, height, fontSize,
		svgWidth/2, escape(title), sidePad, svgWidth-sidePad,
		sidePad, height-10, svgWidth-sidePad, height-10)
	for _, f := range frames {
		x := sidePad + float64(f.start)/float64(root.value)*frameArea
		width := float64(f.value) / float64(root.value) * frameArea
		y := height - bottomPad - (f.depth+1)*frameHeight
		fmt.Fprintf(bw, `<g class="f" data-x="%d" data-w="%d" data-d="%d"><title>%s (%d samples, %.2f%%)</title>`+
			`<rect x="%.2f" y="%d" width="%.2f" height="%d" rx="2" fill="%s"/><text x="%.2f" y="%d">%s</text></g>
`, f.start, f.value, f.depth, escape(f.name), f.value, 100*float64(f.value)/float64(root.value),
			x, y, width, frameHeight-1, color(f.name), x+3, y+fontSize, escape(label(f.name, width)))
	}
	constants := strings.NewReplacer("@AREA@", fmt.Sprint(frameArea), "@LEFT@", fmt.Sprint(sidePad), "@CHAR@", fmt.Sprint(charWidth))
	fmt.Fprintf(bw, "<script><![CDATA[\n%s]]></script>\n</svg>\n", constants.Replace(script))
	return bw.Flush()
}

// label fits name into a frame width pixels wide: whole, cut short with
// "..", or nothing when not even a few letters fit.
func label(name string, width float64) string {
	fit := int(math.Floor((width - 6) / charWidth))
	if fit < 3 {
		return ""
	}
	r := []rune(name)
	if len(r) <= fit {
		return name
	}
	return string(r[:fit-2]) + ".."
}

// color returns a warm colour (reds, oranges, yellows) fixed by the
// name's hash, so a function has the same colour in every graph.
func color(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	v := h.Sum32()
	red := 205 + v%51
	green := 60 + (v>>8)%171
	blue := (v >> 16) % 56
	return fmt.Sprintf("rgb(%d,%d,%d)", red, green, blue)
}

// escape makes s safe as XML character data or attribute value; characters
// XML cannot hold become U+FFFD.
func escape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// script is the SVG's behaviour. Frames carry their start, width and depth
// in samples (data-x, data-w, data-d) so zooming needs no tree; the root
// frame comes first. @AREA@, @LEFT@ and @CHAR@ stand for frameArea,
// sidePad and charWidth.
const script = `(function () {
	var area = @AREA@, left = @LEFT@, charWidth = @CHAR@;
	var frames = Array.prototype.slice.call(document.querySelectorAll("g.f"));
	if (frames.length === 0) return;
	var reset = document.getElementById("reset"), searchButton = document.getElementById("search");
	var details = document.getElementById("details"), matched = document.getElementById("matched");
	function num(g, attr) { return +g.getAttribute("data-" + attr); }
	function name(g) { var t = g.querySelector("title").textContent; return t.slice(0, t.lastIndexOf(" (")); }
	var total = num(frames[0], "w");
	function fit(s, width) {
		var n = Math.floor((width - 6) / charWidth);
		if (n < 3) return "";
		return s.length <= n ? s : s.slice(0, n - 2) + "..";
	}
	function place(g, x, width) {
		var r = g.querySelector("rect"), t = g.querySelector("text");
		r.setAttribute("x", x.toFixed(2));
		r.setAttribute("width", width.toFixed(2));
		t.setAttribute("x", (x + 3).toFixed(2));
		t.textContent = fit(name(g), width);
	}
	function zoom(z) {
		var zx = num(z, "x"), zw = num(z, "w"), zd = num(z, "d");
		frames.forEach(function (g) {
			var x = num(g, "x"), w = num(g, "w"), d = num(g, "d");
			g.classList.remove("hide", "anc");
			if (d < zd && x <= zx && x + w >= zx + zw) {
				g.classList.add("anc");
				place(g, left, area);
			} else if (d >= zd && x >= zx && x + w <= zx + zw) {
				place(g, left + (x - zx) / zw * area, w / zw * area);
			} else {
				g.classList.add("hide");
			}
		});
		reset.classList.toggle("hide", z === frames[0]);
	}
	function clearSearch() {
		frames.forEach(function (g) { g.classList.remove("match"); });
		matched.textContent = " ";
		searchButton.textContent = "Search";
	}
	function search() {
		if (searchButton.textContent !== "Search") { clearSearch(); return; }
		var term = window.prompt("Highlight frames matching (regular expression):", "");
		if (!term) return;
		var re;
		try { re = new RegExp(term); } catch (e) { window.alert(e.message); return; }
		var spans = [];
		frames.forEach(function (g) {
			if (!re.test(name(g))) return;
			g.classList.add("match");
			spans.push([num(g, "x"), num(g, "x") + num(g, "w")]);
		});
		// A match inside another match is counted once.
		spans.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });
		var covered = 0, end = 0;
		spans.forEach(function (s) {
			if (s[1] <= end) return;
			covered += s[1] - Math.max(s[0], end);
			end = s[1];
		});
		matched.textContent = "Matched: " + (100 * covered / total).toFixed(2) + "%";
		searchButton.textContent = "Reset Search";
	}
	document.documentElement.addEventListener("click", function (e) {
		var g = e.target.closest("g.f");
		if (g) zoom(g);
		else if (e.target === reset) zoom(frames[0]);
		else if (e.target === searchButton) search();
	});
	document.documentElement.addEventListener("mouseover", function (e) {
		var g = e.target.closest("g.f");
		details.textContent = g ? g.querySelector("title").textContent : " ";
	});
})();
`
