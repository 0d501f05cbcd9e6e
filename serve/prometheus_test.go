package serve_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ebtrace/ebtrace/internal/testutil"
	"github.com/ebtrace/ebtrace/serve"
)

// liveServer runs the script src, saved as dir/name, in package serve and
// serves it on a loopback port for the rest of the test; it returns the
// server's base URL.
func liveServer(t *testing.T, name, src string) string {
	t.Helper()
	url, _ := liveServerAt(t, name, src)
	return url
}

// liveServerAt is liveServer that also returns the script's path.
func liveServerAt(t *testing.T, name, src string) (url, path string) {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	path = filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	log := &testutil.Buffer{}
	srv, err := serve.New(serve.Options{Scripts: []string{path}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		// The page's event streams end with ctx, so Close has nothing to
		// wait for.
		cancel()
		ts.Close()
		if err := srv.Close(); err != nil {
			t.Errorf("closing the server: %v", err)
		}
		if s := log.String(); s != "" {
			t.Logf("the server said:\n%s", s)
		}
	})
	return ts.URL, path
}

// loopbackPort returns a port of 127.0.0.1 that was free a moment ago.
func loopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// get fetches url and returns its body, failing the test unless the
// status is 200.
func get(t *testing.T, url string) string {
	t.Helper()
	_, body := fetch(t, url, "")
	return body
}

// comm is the name the kernel gives a process running the program at
// path: its file name, cut to 15 bytes.
func comm(path string) string {
	c := filepath.Base(path)
	return c[:min(len(c), 15)]
}

// prometheus is a Prometheus server of the test's own.
type prometheus struct {
	url string
}

// startPrometheus runs Debian's prometheus, scraping target (host:port)
// every second as job "ebtrace", with its storage in a temporary
// directory, until the test ends.
func startPrometheus(t *testing.T, target string) *prometheus {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("needs the prometheus server (Debian package prometheus, which setup.sh installs): not on PATH")
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(config, []byte(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: ebtrace
    static_configs:
      - targets: ['`+target+`']
`), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", loopbackPort(t))
	cmd := exec.Command(bin, "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr)
	out := &testutil.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("prometheus said:\n%s", out.String())
		}
	})
	p := &prometheus{url: "http://" + addr}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("prometheus exited (%v):\n%s", err, out.String())
		default:
		}
		if resp, err := http.Get(p.url + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 30 s:\n%s", out.String())
		}
	}
}

// sample is one series of an instant query's result.
type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"` // [time, "value"]
}

// query runs an instant query through the HTTP API, at the latest data.
func (p *prometheus) query(t *testing.T, q string) []sample {
	t.Helper()
	var resp struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string   `json:"resultType"`
			Result     []sample `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(get(t, p.url+"/api/v1/query?query="+url.QueryEscape(q))), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Status != "success" || resp.Data.ResultType != "vector" {
		t.Fatalf("query %s: status %s, result type %q: %s", q, resp.Status, resp.Data.ResultType, resp.Error)
	}
	return resp.Data.Result
}

// scrapes is how many scrapes of job ebtrace Prometheus has stored.
func (p *prometheus) scrapes(t *testing.T) int {
	t.Helper()
	r := p.query(t, `count_over_time(up{job="ebtrace"}[1h])`)
	if len(r) == 0 {
		return 0
	}
	n, err := strconv.Atoi(r[0].Value[1].(string))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPrometheus has Debian's Prometheus server scrape a script's maps
// every second while a workload makes a known number of calls, and asks
// it, through its query API, for the exact counter, the histogram's
// buckets and the label sets. promtool finds nothing to complain about
// in /metrics.
func TestPrometheus(t *testing.T) {
	wl := testutil.Workload(t)
	calls := testutil.StartGated(t, wl, "wait", "getppid", "1000")
	writes := testutil.StartGated(t, wl, "wait", "write", "1", "1024")
	base := liveServer(t, "prom.bt", fmt.Sprintf(`
tracepoint:syscalls:sys_enter_getppid /pid == %d/ { @calls[comm, pid] = count(); }
tracepoint:syscalls:sys_enter_write /pid == %d/ { @sizes = hist(args.count); }
`, calls.Pid(), writes.Pid()))
	target := strings.TrimPrefix(base, "http://")
	prom := startPrometheus(t, target)

	calls.Release(t)
	writes.Release(t)
	// A scrape under way when the workload ended may have missed some of
	// its calls; the second one after it started after them.
	after := prom.scrapes(t) + 2
	for deadline := time.Now().Add(30 * time.Second); prom.scrapes(t) < after; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus stored %d scrapes in 30 s, want %d", prom.scrapes(t), after)
		}
	}

	got := prom.query(t, `ebtrace_prom_calls_total`)
	want := map[string]string{
		"__name__": "ebtrace_prom_calls_total", "comm": comm(wl), "pid": strconv.Itoa(calls.Pid()),
		"instance": target, "job": "ebtrace",
	}
	if len(got) != 1 || fmt.Sprint(got[0].Metric) != fmt.Sprint(want) || got[0].Value[1] != "1000" {
		t.Errorf("ebtrace_prom_calls_total: got %v, want one series %v of value 1000", got, want)
	}

	// write(2) of each size 1..1024: a bucket le=2^k-1 counts the sizes
	// up to it, and the last holds 1024.
	buckets := map[string]string{}
	for _, s := range prom.query(t, `ebtrace_prom_sizes_bucket`) {
		if len(s.Metric) != 4 || s.Metric["job"] != "ebtrace" || s.Metric["instance"] != target {
			t.Errorf("bucket series %v: want the labels __name__, le, job and instance", s.Metric)
		}
		le, err := strconv.ParseFloat(s.Metric["le"], 64)
		if err != nil {
			t.Fatal(err)
		}
		buckets[strconv.FormatFloat(le, 'f', -1, 64)] = s.Value[1].(string)
	}
	wantBuckets := map[string]string{"+Inf": "1024", "2047": "1024"}
	for k := 1; k <= 10; k++ {
		wantBuckets[strconv.Itoa(1<<k-1)] = strconv.Itoa(1<<k - 1)
	}
	if fmt.Sprint(buckets) != fmt.Sprint(wantBuckets) {
		t.Errorf("ebtrace_prom_sizes_bucket by le: got %v, want %v", buckets, wantBuckets)
	}
	if got := prom.query(t, `ebtrace_prom_sizes_bucket{le="127"}`); len(got) != 1 || got[0].Value[1] != "127" {
		t.Errorf(`ebtrace_prom_sizes_bucket{le="127"}: got %v, want 127`, got)
	}
	if got := prom.query(t, `ebtrace_prom_sizes_count`); len(got) != 1 || got[0].Value[1] != "1024" {
		t.Errorf("ebtrace_prom_sizes_count: got %v, want 1024", got)
	}
	if got := prom.query(t, `ebtrace_events_lost_total{script="prom"}`); len(got) != 1 || got[0].Value[1] != "0" {
		t.Errorf(`ebtrace_events_lost_total{script="prom"}: got %v, want 0`, got)
	}

	metrics := get(t, base+"/metrics")
	t.Run("promtool", func(t *testing.T) { promtoolCheck(t, metrics) })
}

// promtoolCheck runs `promtool check metrics` on an exposition and fails
// the test unless it passes with nothing to say.
func promtoolCheck(t *testing.T, metrics string) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("needs promtool (Debian package prometheus, which setup.sh installs): not on PATH")
	}
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = strings.NewReader(metrics)
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("promtool check metrics: %v\n%s\non:\n%s", err, out, metrics)
	}
}

// TestMetricsFormats scrapes a live script's /metrics plain and gzipped:
// both carry the same families, the self-metrics' exactly as written here,
// in name order, and Prometheus's own parser reads them.
func TestMetricsFormats(t *testing.T) {
	wl := testutil.Workload(t)
	calls := testutil.StartGated(t, wl, "wait", "getppid", "5")
	base, path := liveServerAt(t, "formats.bt", fmt.Sprintf(
		"tracepoint:syscalls:sys_enter_getppid /pid == %d/ { @calls = count(); }\n", calls.Pid()))
	calls.Release(t)

	resp, text := fetch(t, base+"/metrics", "identity")
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("text scrape: Content-Type %q", ct)
	}
	// The run time is the kernel's to say.
	got := regexp.MustCompile(`(ebtrace_probe_run_seconds_total\{.*\}) \S+`).ReplaceAllString(text, "$1 SECONDS")
	want := `# HELP ebtrace_events_lost_total Events lost, by script: the kernel found no room in the buffer it shares with ebtrace, or ebtrace's reader fell too far behind.
# TYPE ebtrace_events_lost_total counter
ebtrace_events_lost_total{script="formats"} 0
# HELP ebtrace_formats_calls_total Count() of map @calls in PATH
# TYPE ebtrace_formats_calls_total counter
ebtrace_formats_calls_total 5
# HELP ebtrace_helper_errors_total BPF helper calls that failed at run time, by script.
# TYPE ebtrace_helper_errors_total counter
ebtrace_helper_errors_total{script="formats"} 0
# HELP ebtrace_probe_run_seconds_total Time each probe's BPF program ran in all (the kernel's BPF statistics).
# TYPE ebtrace_probe_run_seconds_total counter
ebtrace_probe_run_seconds_total{probe="tracepoint:syscalls:sys_enter_getppid",script="formats"} SECONDS
# HELP ebtrace_probe_runs_total Times each probe's BPF program ran (the kernel's BPF statistics).
# TYPE ebtrace_probe_runs_total counter
ebtrace_probe_runs_total{probe="tracepoint:syscalls:sys_enter_getppid",script="formats"} 5
# HELP ebtrace_script_running 1 while the script traces, 0 once it has ended (exit()).
# TYPE ebtrace_script_running gauge
ebtrace_script_running{script="formats"} 1
`
	if want = strings.Replace(want, "PATH", path, 1); got != want {
		t.Errorf("text scrape: got\n%s\nwant\n%s", got, want)
	}

	resp, body := fetch(t, base+"/metrics", "br;q=1.0, gzip;q=0.5")
	if enc := resp.Header.Get("Content-Encoding"); enc != "gzip" {
		t.Fatalf("gzip scrape: Content-Encoding %q, want gzip", enc)
	}
	gz, err := gzip.NewReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(gz)
	if err != nil {
		t.Fatal(err)
	}
	got = regexp.MustCompile(`(ebtrace_probe_run_seconds_total\{.*\}) \S+`).ReplaceAllString(string(unzipped), "$1 SECONDS")
	if got != want {
		t.Errorf("gzip scrape: got\n%s\nwant\n%s", got, want)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	if _, err := parser.TextToMetricFamilies(strings.NewReader(text)); err != nil {
		t.Errorf("Prometheus's parser: %v", err)
	}
}

// fetch gets url with this Accept-Encoding header (when empty, the
// client asks for gzip and decodes it itself) and returns the response
// and its body, failing the test unless the status is 200.
func fetch(t *testing.T, url, encoding string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if encoding != "" {
		req.Header.Set("Accept-Encoding", encoding)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, body)
	}
	return resp, string(body)
}
