package serve_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// loadKeys is how many keys the load test's map holds: the default cap on
// series per map, all exported.
const loadKeys = 10000

// TestLoad has 20 clients scrape /metrics without a pause for 30 s while
// a workload keeps writing: every scrape must succeed and parse, and
// nothing may be lost. The workload runs again and again, each run one
// write(2) of each size 1..10000, so the map holds 10,000 keys that each
// count the runs, and each write is a printf event: the counts and the
// printf lines must come out exact, with no event lost and no map update
// dropped.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 30 s")
	}
	wl, name := testutil.Renamed(t, testutil.Workload(t), "load")
	base := liveServer(t, "load.bt", fmt.Sprintf(`config = { max_map_keys = %d }
tracepoint:syscalls:sys_enter_write /comm == "%s"/ {
	@m[args.count] = count();
	@writes = count();
	printf("%%d\n", args.count);
}
`, 2*loadKeys, name))

	const scrapers, duration = 20, 30 * time.Second
	var (
		scrapes  atomic.Int64
		slowest  atomic.Int64 // ns
		failOnce sync.Once
		failure  error
		wg       sync.WaitGroup
	)
	stop := make(chan struct{})
	for range scrapers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				_, err := scrape(base)
				if d := int64(time.Since(start)); d > slowest.Load() {
					slowest.Store(d)
				}
				if err != nil {
					failOnce.Do(func() { failure = err })
					return
				}
				scrapes.Add(1)
			}
		}()
	}
	runs := 0
	for end := time.Now().Add(duration); time.Now().Before(end); runs++ {
		if out, err := exec.Command(wl, "write", "1", fmt.Sprint(loadKeys)).CombinedOutput(); err != nil {
			close(stop)
			wg.Wait()
			t.Fatalf("workload: %v\n%s", err, out)
		}
		// Bursts of 10,000 events with pauses, as a busy machine makes
		// them, rather than as fast as two cores can write.
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d workload runs, %d scrapes by %d clients in %v, the slowest %v",
		runs, scrapes.Load(), scrapers, duration, time.Duration(slowest.Load()))
	if failure != nil {
		t.Fatalf("a scrape failed: %v", failure)
	}

	families, err := scrape(base)
	if err != nil {
		t.Fatal(err)
	}
	m := families["ebtrace_load_m_total"]
	if m == nil || len(m.Metric) != loadKeys {
		t.Fatalf("ebtrace_load_m_total has %d series, want %d", len(m.GetMetric()), loadKeys)
	}
	seen := map[string]bool{}
	for _, s := range m.Metric {
		if len(s.Label) != 1 || s.Label[0].GetName() != "count" || s.Counter.GetValue() != float64(runs) {
			t.Fatalf("series %v: want one label, count, and the value %d", s, runs)
		}
		seen[s.Label[0].GetValue()] = true
	}
	for size := 1; size <= loadKeys; size++ {
		if !seen[fmt.Sprint(size)] {
			t.Fatalf("no series of count=%d", size)
		}
	}
	want := map[string]float64{
		"ebtrace_load_writes_total":   float64(runs * loadKeys),
		"ebtrace_events_lost_total":   0,
		"ebtrace_helper_errors_total": 0,
	}
	for name, v := range want {
		f := families[name]
		if f == nil || len(f.Metric) != 1 || f.Metric[0].Counter.GetValue() != v {
			t.Errorf("%s: got %v, want one series of value %v", name, f, v)
		}
	}
	for _, name := range []string{"ebtrace_map_updates_dropped_total", "ebtrace_series_dropped_total"} {
		if f := families[name]; f != nil {
			t.Errorf("%s: got %v, want no series", name, f)
		}
	}

	// The page counts the printf lines the script wrote; its state is
	// read each second.
	lines := uint64(runs * loadKeys)
	var got uint64
	for deadline := time.Now().Add(10 * time.Second); got != lines && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var state struct {
			Scripts []struct {
				OutputTotal uint64 `json:"outputTotal"`
				Lost        uint64 `json:"lost"`
			} `json:"scripts"`
		}
		if err := json.Unmarshal([]byte(get(t, base+"/api/state")), &state); err != nil {
			t.Fatal(err)
		}
		if len(state.Scripts) != 1 {
			t.Fatalf("/api/state has %d scripts, want 1", len(state.Scripts))
		}
		got = state.Scripts[0].OutputTotal
		if lost := state.Scripts[0].Lost; lost != 0 {
			t.Fatalf("/api/state: %d events lost", lost)
		}
	}
	if got != lines {
		t.Errorf("the script wrote %d printf lines, want %d", got, lines)
	}
}

// scrape reads base's /metrics and parses it, failing unless the status
// is 200 and the text parses.
func scrape(base string) (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		return nil, fmt.Errorf("parse /metrics: %w", err)
	}
	return families, nil
}
