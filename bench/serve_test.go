package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ebtrace/ebtrace/internal/testutil"
	"github.com/ebtrace/ebtrace/serve"
)

// BenchmarkServeMetrics times a /metrics scrape of `ebtrace serve`, over
// loopback HTTP, while its script holds a map of 10,000 keys: reading the
// map from the kernel, turning it into series and writing the exposition.
// Issue 15's bar is 50 ms; it reports the median and the 99th percentile
// of the scrapes (-benchtime=200x for 200), and the CPU time per scrape.
func BenchmarkServeMetrics(b *testing.B) {
	testutil.RequireRoot(b)
	testutil.RequireTracefs(b)
	const keys = 10000
	wl := testutil.StartGated(b, testutil.Workload(b), "wait", "write", "1", fmt.Sprint(keys))
	path := filepath.Join(b.TempDir(), "bench.bt")
	src := fmt.Sprintf(`config = { max_map_keys = %d }
tracepoint:syscalls:sys_enter_write /pid == %d/ { @m[args.count] = count(); }
`, 2*keys, wl.Pid())
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		b.Fatal(err)
	}
	srv, err := serve.New(serve.Options{Scripts: []string{path}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	wl.Release(b)

	// Each write(2) of sizes 1..10000 made one key.
	if n := strings.Count(scrapeMetrics(b, ts.URL), "\nebtrace_bench_m_total{"); n != keys {
		b.Fatalf("/metrics has %d series of ebtrace_bench_m_total, want %d", n, keys)
	}
	var times []time.Duration
	before := cpuTime(b)
	for b.Loop() {
		start := time.Now()
		scrapeMetrics(b, ts.URL)
		times = append(times, time.Since(start))
	}
	cpu := cpuTime(b) - before
	slices.Sort(times)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	// CPU time per scrape, client and server together, is what a busy
	// machine does not stretch as it does the wall time.
	b.ReportMetric(ms(cpu)/float64(len(times)), "cpu-ms/op")
	b.ReportMetric(ms(times[len(times)/2]), "median-ms")
	b.ReportMetric(ms(times[(len(times)*99+99)/100-1]), "p99-ms")
}

// cpuTime is the CPU time this process has used, in user and system
// mode.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// scrapeMetrics reads base's /metrics whole.
func scrapeMetrics(b *testing.B, base string) string {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("GET /metrics: %v %s", err, resp.Status)
	}
	return string(body)
}
