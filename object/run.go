package object

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/cilium/ebpf/perf"
	"github.com/cilium/ebpf/ringbuf"

	"ebtrace/output"
)

// RunOptions say what Run shows while the object runs.
type RunOptions struct {
	// Heatmaps are maps of log2 slots drawn as one heatmap row each
	// Interval: the counts added since the previous row.
	Heatmaps []string
	Interval time.Duration
	// Text draws heatmap rows with characters instead of ANSI colours.
	Text bool
	// Warnings receives what goes wrong while running (a map that cannot
	// be read); nil drops it.
	Warnings func(error)
}

// event is one thing to show, from one of Run's readers.
type event struct {
	printk string
	record *Record
}

// Run shows the object's printk lines and records on w as they come, and
// the heatmap rows at each interval, until stop is closed; then it shows
// what was still buffered and returns. Lost perf records are reported
// through w.Lost.
func (o *Object) Run(w output.Writer, stop <-chan struct{}, opts RunOptions) error {
	events := make(chan event, 256)
	done := make(chan struct{})
	var wg sync.WaitGroup
	var readErr error
	var errOnce sync.Once
	fail := func(err error) { errOnce.Do(func() { readErr = err }) }
	if o.printk != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				lines, err := o.printk.read(100 * time.Millisecond)
				if err != nil {
					fail(err)
					return
				}
				for _, l := range lines {
					events <- event{printk: l}
				}
			}
		}()
	}
	for _, r := range o.records {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				rec, err := r.read()
				if errors.Is(err, ringbuf.ErrFlushed) || errors.Is(err, perf.ErrFlushed) || errors.Is(err, os.ErrClosed) {
					return
				}
				if err != nil {
					fail(fmt.Errorf("read map %s: %w", r.name, err))
					return
				}
				events <- event{record: &rec}
			}
		}()
	}
	go func() {
		<-stop
		// What the programs wrote before stop is still read: the
		// readers end at their next empty read.
		for _, r := range o.records {
			r.flush()
		}
		close(done)
		wg.Wait()
		close(events)
	}()

	var tick <-chan time.Time
	heat := newHeatmaps(o, opts)
	if len(opts.Heatmaps) > 0 {
		t := time.NewTicker(opts.Interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				if o.printk != nil {
					if lines, err := o.printk.read(0); err == nil {
						for _, l := range lines {
							w.Printf(l + "\n")
						}
					}
				}
				return readErr
			}
			show(w, ev)
		case <-tick:
			if err := heat.row(w); err != nil && opts.Warnings != nil {
				opts.Warnings(err)
			}
		}
		if len(events) == 0 {
			if err := w.Flush(); err != nil {
				return err
			}
		}
	}
}

func show(w output.Writer, ev event) {
	switch {
	case ev.record == nil:
		w.Printf(ev.printk + "\n")
	case ev.record.Lost > 0:
		w.Lost(ev.record.Lost)
	default:
		w.Print(&output.Map{Name: ev.record.Map, Kind: output.Scalar, Entries: []output.Entry{{Value: ev.record.Value}}})
	}
}
