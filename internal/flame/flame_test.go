package flame

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

// samples is a small profile: main calls work (twice, merged), which
// calls a leaf, and idle; two empty or zero samples draw nothing.
var samples = []Sample{
	{Frames: []string{"main", "work", "leaf"}, Value: 3},
	{Frames: []string{"main", "idle"}, Value: 2},
	{Frames: []string{"main", "work"}, Value: 1},
	{Frames: []string{"main", "work", "leaf"}, Value: 4},
	{Frames: []string{"start;up", "x\ny"}, Value: 2},
	{Frames: nil, Value: 5},
	{Frames: []string{"main"}, Value: 0},
}

func TestFolded(t *testing.T) {
	var b bytes.Buffer
	if err := Folded(&b, samples); err != nil {
		t.Fatal(err)
	}
	want := "main;idle 2\nmain;work 1\nmain;work;leaf 7\nstart:up;x y 2\n"
	if b.String() != want {
		t.Errorf("Folded:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := Folded(&b, []Sample{{[]string{"a;b"}, 1}, {[]string{"a:b"}, 2}}); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "a:b 3\n" {
		t.Errorf("names that fold alike: got %q, want one merged line", got)
	}
}

// svgDoc is the part of the SVG the tests read.
type svgDoc struct {
	Width  float64 `xml:"width,attr"`
	Height float64 `xml:"height,attr"`
	Texts  []struct {
		ID   string `xml:"id,attr"`
		Text string `xml:",chardata"`
	} `xml:"text"`
	Frames []struct {
		Class string `xml:"class,attr"`
		Depth int    `xml:"data-d,attr"`
		Title string `xml:"title"`
		Rect  struct {
			X      float64 `xml:"x,attr"`
			Y      float64 `xml:"y,attr"`
			Width  float64 `xml:"width,attr"`
			Height float64 `xml:"height,attr"`
			Fill   string  `xml:"fill,attr"`
		} `xml:"rect"`
		Label string `xml:"text"`
	} `xml:"g"`
	Script string `xml:"script"`
}

func renderSVG(t *testing.T, samples []Sample, title string) (svgDoc, []byte) {
	t.Helper()
	var b bytes.Buffer
	if err := SVG(&b, samples, title); err != nil {
		t.Fatal(err)
	}
	var doc svgDoc
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("the SVG is not valid XML: %v\n%s", err, b.Bytes())
	}
	return doc, b.Bytes()
}

func TestSVG(t *testing.T) {
	doc, _ := renderSVG(t, samples, `CPU <"profile"> & more`)
	type want struct {
		title string
		depth int
		x, w  float64 // in samples
	}
	// 12 samples: all, then each frame before its children, siblings by name.
	wants := []want{
		{"all (12 samples, 100.00%)", 0, 0, 12},
		{"main (10 samples, 83.33%)", 1, 0, 10},
		{"idle (2 samples, 16.67%)", 2, 0, 2},
		{"work (8 samples, 66.67%)", 2, 2, 8},
		{"leaf (7 samples, 58.33%)", 3, 2, 7},
		{"start;up (2 samples, 16.67%)", 1, 10, 2},
		{"x\ny (2 samples, 16.67%)", 2, 10, 2},
	}
	if len(doc.Frames) != len(wants) {
		t.Fatalf("%d frames, want %d", len(doc.Frames), len(wants))
	}
	bottom := doc.Height - bottomPad
	for i, w := range wants {
		f := doc.Frames[i]
		r := f.Rect
		if f.Class != "f" || f.Title != w.title || f.Depth != w.depth {
			t.Errorf("frame %d: class %q title %q depth %d; want %q depth %d", i, f.Class, f.Title, f.Depth, w.title, w.depth)
		}
		if wantX, wantW := sidePad+w.x/12*frameArea, w.w/12*frameArea; math.Abs(r.X-wantX) > 0.01 || math.Abs(r.Width-wantW) > 0.01 {
			t.Errorf("%s: x %.2f width %.2f; want %.2f, %.2f", w.title, r.X, r.Width, wantX, wantW)
		}
		if wantY := bottom - float64((w.depth+1)*frameHeight); r.Y != wantY || r.Height != frameHeight-1 {
			t.Errorf("%s: y %v height %v; want %v, %v", w.title, r.Y, r.Height, wantY, frameHeight-1)
		}
		if !strings.HasPrefix(r.Fill, "rgb(") {
			t.Errorf("%s: fill %q", w.title, r.Fill)
		}
	}
	if doc.Frames[3].Rect.Fill != color("work") || color("work") == color("leaf") {
		t.Errorf("colours are not fixed by name: work %s (color says %s), leaf %s", doc.Frames[3].Rect.Fill, color("work"), color("leaf"))
	}
	if got := doc.Frames[1].Label; got != "main" {
		t.Errorf("label of a wide frame = %q, want the whole name", got)
	}
	if doc.Width != svgWidth || doc.Height != topPad+4*frameHeight+bottomPad {
		t.Errorf("size %vx%v", doc.Width, doc.Height)
	}
	var title string
	for _, text := range doc.Texts {
		if text.ID == "title" {
			title = text.Text
		}
	}
	if title != `CPU <"profile"> & more` {
		t.Errorf("title %q", title)
	}
	if !strings.Contains(doc.Script, "function zoom(") || !strings.Contains(doc.Script, "var area = 1180, left = 10, charWidth = 7.08;") {
		t.Errorf("the script is missing or its constants are not filled in:\n%s", doc.Script)
	}
}

// TestSVGNarrowFrames checks that frames under 0.1% of the samples are
// left out with everything above them, and that labels are cut to fit.
func TestSVGNarrowFrames(t *testing.T) {
	long := strings.Repeat("averylongfunctionname", 10)
	doc, _ := renderSVG(t, []Sample{
		{Frames: []string{"main", long}, Value: 9481},
		{Frames: []string{"main", "tiny", "tinier"}, Value: 9},
		{Frames: []string{"main", "edge"}, Value: 10}, // exactly 0.1% of 10000
		{Frames: []string{"main", "short"}, Value: 500},
	}, "t")
	var titles []string
	for _, f := range doc.Frames {
		titles = append(titles, f.Title[:strings.Index(f.Title, " (")])
		if strings.HasPrefix(f.Title, long) {
			w := f.Rect.Width
			if l := f.Label; !strings.HasSuffix(l, "..") || float64(len(l))*charWidth > w-6 || len(l) < 10 {
				t.Errorf("label %q does not fit a %.1f px frame closely", l, w)
			}
		}
	}
	if got, want := strings.Join(titles, " "), "all main "+long+" edge short"; got != want {
		t.Errorf("frames %s\nwant %s", got, want)
	}
	if got := label("main", 3*charWidth+5); got != "" {
		t.Errorf("label in a sliver = %q, want none", got)
	}
}

func TestSVGEmpty(t *testing.T) {
	doc, _ := renderSVG(t, nil, "nothing")
	if len(doc.Frames) != 0 {
		t.Errorf("%d frames drawn for no samples", len(doc.Frames))
	}
}

// TestSVGInvalidXMLChars feeds names XML cannot hold.
func TestSVGInvalidXMLChars(t *testing.T) {
	doc, _ := renderSVG(t, []Sample{{Frames: []string{"a\x00b", "\xff\xfe", "c\x1bd"}, Value: 1}}, "\x01")
	if len(doc.Frames) != 4 {
		t.Errorf("%d frames, want 4", len(doc.Frames))
	}
}

// TestSVGInBrowser runs the graph's script in headless Chromium: a
// driver script clicks the "work" frame and searches for two names, as a
// user would, and the DOM afterwards must show the zoom and the match.
func TestSVGInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starting a browser takes seconds")
	}
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("needs chromium to run the SVG's script")
	}
	var b bytes.Buffer
	if err := SVG(&b, samples, "t"); err != nil {
		t.Fatal(err)
	}
	driver := `<script><![CDATA[
window.prompt = function () { return "^(leaf|work)$"; };
function click(el) { el.dispatchEvent(new MouseEvent("click", {bubbles: true})); }
document.querySelectorAll("g.f").forEach(function (g) {
	if (g.querySelector("title").textContent.indexOf("work ") === 0) click(g.querySelector("rect"));
});
click(document.getElementById("search"));
]]></script>
</svg>
`
	path := filepath.Join(t.TempDir(), "flame.svg")
	if err := os.WriteFile(path, []byte(strings.Replace(b.String(), "</svg>\n", driver, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", path).Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	frame := regexp.MustCompile(`<g class="([^"]*)"[^>]*><title>(\w+) \([^<]*</title><rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"`)
	got := map[string]string{}
	for _, m := range frame.FindAllStringSubmatch(dom, -1) {
		got[m[2]] = fmt.Sprintf("class=%q x=%s width=%s", m[1], m[3], m[4])
	}
	for name, want := range map[string]string{
		"all":  `class="f anc" x=10.00 width=1180.00`,
		"main": `class="f anc" x=10.00 width=1180.00`,
		"idle": `class="f hide" x=10.00 width=196.67`,   // hidden, not moved
		"work": `class="f match" x=10.00 width=1180.00`, // the zoomed frame spans the graph
		"leaf": `class="f match" x=10.00 width=1032.50`, // 7 of work's 8 samples
	} {
		if got[name] != want {
			t.Errorf("%s after zoom and search: %s; want %s", name, got[name], want)
		}
	}
	// work's 8 of 12 samples, leaf inside it counted once.
	if !strings.Contains(dom, ">Matched: 66.67%<") || !strings.Contains(dom, ">Reset Search<") {
		t.Errorf("the search result is not shown:\n%s", dom)
	}
	if !strings.Contains(dom, `<text id="reset" class="button" `) {
		t.Error("Reset Zoom is still hidden after zooming")
	}
}

func TestPprof(t *testing.T) {
	var b bytes.Buffer
	if err := Pprof(&b, samples); err != nil {
		t.Fatal(err)
	}
	p, err := profile.Parse(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.SampleType) != 1 || p.SampleType[0].Type != "samples" || p.SampleType[0].Unit != "count" {
		t.Errorf("sample types %v", p.SampleType)
	}
	var got []string
	var total int64
	for _, s := range p.Sample {
		var names []string
		for _, l := range slices.Backward(s.Location) {
			names = append(names, l.Line[0].Function.Name)
		}
		got = append(got, strings.Join(names, "|")+" "+strconv.FormatInt(s.Value[0], 10))
		total += s.Value[0]
	}
	slices.Sort(got)
	want := []string{"main|idle 2", "main|work 1", "main|work|leaf 7", "start;up|x\ny 2"}
	if !slices.Equal(got, want) {
		t.Errorf("stacks %q, want %q", got, want)
	}
	if total != 12 {
		t.Errorf("total %d, want 12", total)
	}
	if len(p.Function) != 6 || len(p.Location) != 6 {
		t.Errorf("%d functions and %d locations, want one each per distinct frame (6)", len(p.Function), len(p.Location))
	}

	// go tool pprof reads it.
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "tool", "pprof", "-top", path).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "leaf") || !strings.Contains(string(out), "of 12 total") {
		t.Errorf("go tool pprof -top:\n%s", out)
	}
}
