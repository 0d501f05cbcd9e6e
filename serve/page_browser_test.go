package serve_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	dto "github.com/prometheus/client_model/go"

	"github.com/ebtrace/ebtrace/internal/testutil"
	"github.com/ebtrace/ebtrace/serve"
)

// pageScript traces the writes of one renamed workload into a map of
// every kind the page draws. Its file is page.bt, so its metrics are
// ebtrace_page_*.
const pageScript = `tracepoint:syscalls:sys_enter_write /comm == "%s"/ {
	@writes[comm, pid] = count();
	@bytes[comm] = sum(args.count);
	@size = hist(args.count);
	@linear = lhist(args.count, 0, 400, 50);
	@st = stats(args.count);
	@last = comm;
	@ts = tseries(args.count, 1s, 30);
	@stacks[kstack] = count();
	printf("%%s wrote %%d bytes\n", comm, args.count);
}
`

// TestPageInBrowser opens the live page in headless Chromium and checks
// that what it shows equals /metrics and what the workload did, before and
// after a second run of the workload; it saves a screenshot of the page
// to $EBTRACE_SCREENSHOT, or to the test's temporary directory.
func TestPageInBrowser(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	chrome, err := exec.LookPath("chromium")
	if err != nil {
		t.Skipf("needs chromium (Debian's chromium package; setup.sh installs it): %v", err)
	}
	wl, comm := testutil.Renamed(t, testutil.Workload(t), "pg")
	path := filepath.Join(t.TempDir(), "page.bt")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(pageScript, comm)), 0o644); err != nil {
		t.Fatal(err)
	}
	srv, err := serve.New(serve.Options{Scripts: []string{path}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		// The page's event stream stays open until its connection closes.
		ts.CloseClientConnections()
		ts.Close()
	})
	browser := startBrowser(t, chrome)
	if err := chromedp.Do(browser, chromedp.Navigate(ts.URL)); err != nil {
		t.Fatalf("open the page: %v", err)
	}
	// The server read its histograms once at Start, before any write,
	// so the heatmaps will count every write.
	waitPage(t, browser, "the first update", func(p *shownPage) bool { return p.Updates >= 1 })

	run := func(lo, hi int) (pid string, values []int64) {
		cmd := exec.Command(wl, "write", strconv.Itoa(lo), strconv.Itoa(hi))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
		for v := lo; v <= hi; v++ {
			values = append(values, int64(v))
		}
		return strconv.Itoa(cmd.Process.Pid), values
	}

	pid1, values := run(1, 40)
	p := waitPage(t, browser, "the first run's 40 writes", func(p *shownPage) bool {
		return p.Output.Total == len(values) && p.value("@writes", comm, pid1) == "40"
	})
	before := p.Updates
	checkPage(t, p, comm, values, shownWant{
		writes: []string{comm + "," + pid1 + "=40"},
		size:   "[1]=1 [2, 4)=2 [4, 8)=4 [8, 16)=8 [16, 32)=16 [32, 64)=9",
		linear: "[0, 50)=40",
	})
	checkMetrics(t, p, ts.URL)

	pid2, more := run(1000, 1300)
	values = append(values, more...)
	p = waitPage(t, browser, "the second run's 301 writes", func(p *shownPage) bool {
		return p.Output.Total == len(values) && p.value("@writes", comm, pid2) == "301" && p.Flame.Samples == len(values)
	})
	if p.Updates <= before {
		t.Errorf("the page shows the second run after %d updates, the first after %d", p.Updates, before)
	}
	checkPage(t, p, comm, values, shownWant{
		writes: []string{comm + "," + pid2 + "=301", comm + "," + pid1 + "=40"},
		// Empty buckets between full ones are shown; bounds that are
		// multiples of 1024 have units, as bpftrace prints them.
		size:   "[1]=1 [2, 4)=2 [4, 8)=4 [8, 16)=8 [16, 32)=16 [32, 64)=9 [64, 128)=0 [128, 256)=0 [256, 512)=0 [512, 1K)=24 [1K, 2K)=277",
		linear: "[0, 50)=40 [50, 100)=0 [100, 150)=0 [150, 200)=0 [200, 250)=0 [250, 300)=0 [300, 350)=0 [350, 400)=0 [400, ...)=301",
	})
	checkMetrics(t, p, ts.URL)

	shot, err := chromedp.Run(browser, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	file := os.Getenv("EBTRACE_SCREENSHOT")
	if file == "" {
		file = filepath.Join(t.TempDir(), "page.png")
	}
	if err := os.WriteFile(file, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the page: %s", file)
}

// startBrowser starts headless Chromium, closed when the test ends.
func startBrowser(t *testing.T, chrome string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.NoSandbox, // root may not use Chromium's sandbox
		chromedp.WindowSize(1400, 1000),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelBrowser := chromedp.NewContext(ctx)
	t.Cleanup(cancelBrowser)
	return ctx
}

// shownPage is what the page shows, read from its data-* attributes by
// readPage.
type shownPage struct {
	Updates int
	Text    string            // the script's section as a reader sees it
	Stats   map[string]string // data-stat -> data-value, by script
	Maps    map[string]*shownMap
	Probes  []struct{ Probe, Runs, Ns string }
	Output  struct {
		Total int
		Lines []string
	}
	Flame struct{ Samples int } // what the flame graph's root frame counts
}

type shownMap struct {
	Kind    string
	Total   string
	Entries []shownEntry
	Heatmap *struct{ Total string }
}

type shownEntry struct {
	Key                    []string
	Value, Count, Sum, Avg string
	Shown                  []string // the numbers a reader sees, formatted
	Buckets                []struct{ Label, Count, Shown string }
}

// value is the value shown for a map's key, "" when none is.
func (p *shownPage) value(m string, key ...string) string {
	if p.Maps[m] == nil {
		return ""
	}
	for _, e := range p.Maps[m].Entries {
		if slices.Equal(e.Key, key) {
			return e.Value
		}
	}
	return ""
}

// readPage gathers what the page shows of the script page.bt.
const readPage = `(() => {
	const sec = document.querySelector('section[data-script="page"]');
	if (!sec) return JSON.stringify({Updates: 0});
	const d = (e, name) => e.getAttribute("data-" + name);
	const maps = {};
	for (const card of sec.querySelectorAll("article[data-map]")) {
		const heat = card.querySelector("canvas.heatmap");
		maps[d(card, "map")] = {
			Kind: d(card, "kind"), Total: d(card, "total"),
			Heatmap: heat && {Total: d(heat, "total")},
			Entries: [...card.querySelectorAll("[data-key]")].map((e) => ({
				Key: JSON.parse(d(e, "key")), Value: d(e, "value"),
				Count: d(e, "count"), Sum: d(e, "sum"), Avg: d(e, "avg"),
				Shown: e.matches("tr") ? [...e.querySelectorAll(":scope > td.num")].map((c) => c.textContent)
					: e.matches("figure.tseries") ? [e.querySelector("figcaption b").textContent]
					: e.matches(".single") ? [e.textContent] : [],
				Buckets: [...e.querySelectorAll("[data-bucket]")].map((b) =>
					({Label: d(b, "bucket"), Count: d(b, "count"), Shown: b.querySelector("td.num").textContent})),
			})),
		};
	}
	const stats = {};
	for (const s of sec.querySelectorAll("[data-stat]")) stats[d(s, "stat") + (d(s, "map") || "")] = d(s, "value");
	const pre = sec.querySelector("pre.output");
	const flame = sec.querySelector("object.flame");
	const root = flame && flame.contentDocument && flame.contentDocument.querySelector("g.f");
	return JSON.stringify({
		Updates: Number(document.body.dataset.updates || 0), Text: sec.innerText,
		Stats: stats, Maps: maps,
		Probes: [...sec.querySelectorAll("tr[data-probe]")].map((r) => ({Probe: d(r, "probe"), Runs: d(r, "runs"), Ns: d(r, "ns")})),
		Output: {Total: Number(d(pre, "total")), Lines: pre.textContent === "" ? [] : pre.textContent.split("\n")},
		Flame: {Samples: root ? Number(d(root, "w")) : 0},
	});
})()`

// waitPage reads the page until ready holds of it, failing the test after
// 20 seconds.
func waitPage(t *testing.T, browser context.Context, what string, ready func(*shownPage) bool) *shownPage {
	t.Helper()
	var last string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		text, err := chromedp.Run(browser, chromedp.Evaluate[string](readPage))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		last = text
		p := &shownPage{}
		if err := json.Unmarshal([]byte(text), p); err != nil {
			t.Fatalf("read the page: %v\n%s", err, text)
		}
		if ready(p) {
			return p
		}
	}
	if len(last) > 4000 {
		last = last[:4000] + "..."
	}
	t.Fatalf("the page never showed %s; it shows:\n%s", what, last)
	return nil
}

// shownWant is what the page should show of the workload's writes: @writes
// as comm,pid=count, largest first, and the histograms as label=count.
type shownWant struct {
	writes       []string
	size, linear string
}

// checkPage compares the page with what the workload did: writes of the
// sizes values, counted and bucketed as want says.
func checkPage(t *testing.T, p *shownPage, comm string, values []int64, want shownWant) {
	t.Helper()
	var sum int64
	for _, v := range values {
		sum += v
	}
	n := strconv.Itoa(len(values))
	var writes []string
	for _, e := range p.Maps["@writes"].Entries {
		writes = append(writes, strings.Join(e.Key, ",")+"="+e.Value)
	}
	if !slices.Equal(writes, want.writes) {
		t.Errorf("@writes shows %q, want %q", writes, want.writes)
	}
	checkShown(t, p)
	if bad := jsLeak.FindString(p.Text); bad != "" {
		t.Errorf("the page shows %q to the reader:\n%s", bad, p.Text)
	}
	last := ""
	if len(p.Output.Lines) > 0 {
		last = p.Output.Lines[len(p.Output.Lines)-1]
	}
	for _, c := range []struct{ what, got, want string }{
		{"@bytes", p.value("@bytes", comm), strconv.FormatInt(sum, 10)},
		{"@last", p.value("@last"), comm},
		{"@ts's last value", p.value("@ts"), strconv.FormatInt(values[len(values)-1], 10)},
		{"@st", stats(p, "@st"), fmt.Sprintf("count=%d sum=%d avg=%d", len(values), sum, sum/int64(len(values)))},
		{"@size", histogram(p, "@size"), want.size},
		{"@linear", histogram(p, "@linear"), want.linear},
		{"@size's heatmap", heatmapTotal(p, "@size"), n},
		{"@linear's heatmap", heatmapTotal(p, "@linear"), n},
		{"lost events", p.Stats["lost"], "0"},
		{"helper errors", p.Stats["helperErrors"], "0"},
		{"printf lines", strconv.Itoa(p.Output.Total), n},
		{"the last printf line", last, fmt.Sprintf("%s wrote %d bytes", comm, values[len(values)-1])},
		// The ring keeps 200 lines.
		{"printf lines kept", strconv.Itoa(len(p.Output.Lines)), strconv.Itoa(min(len(values), 200))},
	} {
		if c.got != c.want {
			t.Errorf("the page shows %s as %q, want %q", c.what, c.got, c.want)
		}
	}
}

// checkShown checks that the numbers a reader sees are those the page
// keeps in its data attributes, which the test compares.
func checkShown(t *testing.T, p *shownPage) {
	t.Helper()
	for name, m := range p.Maps {
		for _, e := range m.Entries {
			want := []string{e.Value}
			switch {
			case m.Kind == "stats":
				want = []string{e.Count, e.Sum, e.Avg}
			case m.Kind == "string", len(e.Buckets) > 0:
				want = nil
			}
			var seen []string
			for _, s := range e.Shown {
				seen = append(seen, strings.ReplaceAll(s, ",", ""))
			}
			if len(want) > 0 && !slices.Equal(seen, want) {
				t.Errorf("%s[%s]: the page shows %q, keeps %q", name, strings.Join(e.Key, ","), e.Shown, want)
			}
			for _, b := range e.Buckets {
				if strings.ReplaceAll(b.Shown, ",", "") != b.Count {
					t.Errorf("%s[%s] %s: the page shows %q, keeps %q", name, strings.Join(e.Key, ","), b.Label, b.Shown, b.Count)
				}
			}
		}
	}
}

// jsLeak finds what JavaScript writes for a value that is missing or
// not a number.
var jsLeak = regexp.MustCompile(`\b(null|undefined|NaN|Infinity|\[object \w+\])`)

func stats(p *shownPage, m string) string {
	if p.Maps[m] == nil || len(p.Maps[m].Entries) != 1 {
		return ""
	}
	e := p.Maps[m].Entries[0]
	return fmt.Sprintf("count=%s sum=%s avg=%s", e.Count, e.Sum, e.Avg)
}

func heatmapTotal(p *shownPage, m string) string {
	if p.Maps[m] == nil || p.Maps[m].Heatmap == nil {
		return ""
	}
	return p.Maps[m].Heatmap.Total
}

// histogram writes a histogram map without keys as the page shows it:
// label=count per bucket.
func histogram(p *shownPage, m string) string {
	if p.Maps[m] == nil || len(p.Maps[m].Entries) != 1 {
		return ""
	}
	var parts []string
	for _, b := range p.Maps[m].Entries[0].Buckets {
		parts = append(parts, b.Label+"="+b.Count)
	}
	return strings.Join(parts, " ")
}

// checkMetrics compares the page with /metrics: every map /metrics
// exports has on the page the series and values it has there, and the
// self-metrics agree.
func checkMetrics(t *testing.T, p *shownPage, url string) {
	t.Helper()
	families, err := scrape(url)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		m      string
		family string
		labels []string
	}{
		{"@writes", "ebtrace_page_writes", []string{"comm", "pid"}},
		{"@bytes", "ebtrace_page_bytes", []string{"comm"}},
		{"@size", "ebtrace_page_size", nil},
		{"@linear", "ebtrace_page_linear", nil},
		{"@st", "ebtrace_page_st", nil},
	} {
		// Maps that only grow are counters, named _total.
		fam := families[c.family]
		if fam == nil {
			fam = families[c.family+"_total"]
		}
		if fam == nil {
			t.Errorf("/metrics has no %s for %s", c.family, c.m)
			continue
		}
		page := map[string]string{}
		for _, e := range p.Maps[c.m].Entries {
			page[strings.Join(e.Key, ",")] = shownSeries(p.Maps[c.m].Kind, e)
		}
		metrics := map[string]string{}
		for _, m := range fam.Metric {
			key, stat := labelValues(m, c.labels)
			s, err := metricSeries(m, stat)
			if err != nil {
				t.Errorf("%s{%s}: %v", c.family, key, err)
			}
			metrics[key] += s
		}
		if fmt.Sprint(page) != fmt.Sprint(metrics) {
			t.Errorf("%s: the page shows\n\t%v\n/metrics has %s\n\t%v", c.m, page, c.family, metrics)
		}
	}
	if got, want := p.Stats["lost"], metricValue(families, "ebtrace_events_lost_total"); got != want {
		t.Errorf("the page shows %s lost events, /metrics %s", got, want)
	}
	// The probes run at every write of the machine: the page's count,
	// read before the scrape, is at most /metrics's and at least what
	// the workload wrote.
	runs := families["ebtrace_probe_runs_total"]
	if len(p.Probes) != 1 || runs == nil || len(runs.Metric) != 1 {
		t.Fatalf("the page shows probes %+v, /metrics %v", p.Probes, runs)
	}
	shown, _ := strconv.ParseFloat(p.Probes[0].Runs, 64)
	scraped := runs.Metric[0].GetCounter().GetValue()
	written := p.Maps["@st"].Entries[0].Count
	if w, _ := strconv.ParseFloat(written, 64); p.Probes[0].Probe != "tracepoint:syscalls:sys_enter_write" || shown < w || shown > scraped {
		t.Errorf("the page shows %s ran %s times; want between the %s writes traced and the %v runs /metrics has since", p.Probes[0].Probe, p.Probes[0].Runs, written, scraped)
	}
	if ns, _ := strconv.ParseFloat(p.Probes[0].Ns, 64); ns <= 0 {
		t.Errorf("the page shows %s costs %s ns an event", p.Probes[0].Probe, p.Probes[0].Ns)
	}
}

// shownSeries writes an entry as metricSeries writes its series, from
// what the page shows: a histogram's buckets become cumulative counts at
// each bucket's highest value, as Prometheus's le buckets.
func shownSeries(kind string, e shownEntry) string {
	switch kind {
	case "stats":
		return fmt.Sprintf("avg=%s count=%s sum=%s ", e.Avg, e.Count, e.Sum)
	case "hist", "lhist":
		var b strings.Builder
		var total uint64
		for _, bucket := range e.Buckets {
			n, _ := strconv.ParseUint(bucket.Count, 10, 64)
			total += n
			fmt.Fprintf(&b, "le=%s:%d ", bucketTop(bucket.Label), total)
		}
		if len(e.Buckets) == 0 || !strings.HasSuffix(e.Buckets[len(e.Buckets)-1].Label, "...)") {
			fmt.Fprintf(&b, "le=+Inf:%d ", total)
		}
		return fmt.Sprintf("count=%s %s", e.Value, b.String())
	}
	return e.Value
}

// bucketTop is the highest value a bucket labelled as bpftrace labels it
// holds: 7 for [4, 8), 1 for [1], 2047 for [1K, 2K), +Inf for [400, ...).
func bucketTop(label string) string {
	parts := strings.Split(strings.Trim(label, "[]()"), ", ")
	last := parts[len(parts)-1]
	if last == "..." {
		return "+Inf"
	}
	unit := int64(1)
	if i := strings.IndexAny(last, "KMGTPE"); i > 0 {
		unit <<= 10 * (strings.Index("KMGTPE", last[i:]) + 1)
		last = last[:i]
	}
	n, _ := strconv.ParseInt(last, 10, 64)
	if len(parts) == 1 {
		return strconv.FormatInt(n*unit, 10)
	}
	return strconv.FormatInt(n*unit-1, 10)
}

// metricSeries writes one series as shownSeries does.
func metricSeries(m *dto.Metric, stat string) (string, error) {
	switch {
	case m.Histogram != nil:
		var b strings.Builder
		buckets := m.Histogram.Bucket
		for _, bucket := range buckets {
			fmt.Fprintf(&b, "le=%v:%d ", bucket.GetUpperBound(), bucket.GetCumulativeCount())
		}
		if len(buckets) == 0 || !math.IsInf(buckets[len(buckets)-1].GetUpperBound(), 1) {
			fmt.Fprintf(&b, "le=+Inf:%d ", m.Histogram.GetSampleCount())
		}
		return fmt.Sprintf("count=%d %s", m.Histogram.GetSampleCount(), b.String()), nil
	case stat != "":
		return fmt.Sprintf("%s=%v ", stat, m.GetGauge().GetValue()), nil
	case m.Counter != nil:
		return strconv.FormatFloat(m.Counter.GetValue(), 'f', -1, 64), nil
	case m.Gauge != nil:
		return strconv.FormatFloat(m.Gauge.GetValue(), 'f', -1, 64), nil
	}
	return "", fmt.Errorf("a series of no type the page shows: %v", m)
}

// labelValues returns a series' key, its label values in the order
// names gives them, and its stat label.
func labelValues(m *dto.Metric, names []string) (key, stat string) {
	byName := map[string]string{}
	for _, l := range m.Label {
		byName[l.GetName()] = l.GetValue()
	}
	var parts []string
	for _, name := range names {
		parts = append(parts, byName[name])
	}
	return strings.Join(parts, ","), byName["stat"]
}

func metricValue(families map[string]*dto.MetricFamily, name string) string {
	fam := families[name]
	if fam == nil || len(fam.Metric) != 1 {
		return fmt.Sprintf("(%d series of %s)", len(fam.GetMetric()), name)
	}
	return strconv.FormatFloat(fam.Metric[0].GetCounter().GetValue(), 'f', -1, 64)
}
