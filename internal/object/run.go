package object

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/cilium/ebpf/perf"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/ebtrace/ebtrace/internal/output"
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
// the heatmap rows at each interval, until stop is closed or a reader or
// a write fails; then it detaches the programs, shows what was still buffered
// and returns. Lost perf records are reported through w.Lost.
func (o *Object) Run(w output.Writer, stop <-chan struct{}, opts RunOptions) error {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	events := make(chan event, 256)
	done := make(chan struct{})
	failed := make(chan struct{})
	var wg sync.WaitGroup
	var readErr error
	var failOnce sync.Once
	fail := func(err error) {
		failOnce.Do(func() {
			readErr = err
			close(failed)
		})
	}
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
		select {
		case <-stop:
		case <-failed:
		}
		// Nothing new arrives once the programs are detached: what they
		// wrote before is still read, and the readers end at their next
		// empty read.
		if err := o.detach(); err != nil && opts.Warnings != nil {
			opts.Warnings(err)
		}
		for _, r := range o.records {
			r.flush()
		}
		close(done)
		wg.Wait()
		close(events)
	}()

	heat := newHeatmaps(o, opts)
	var tick <-chan time.Time
	if len(opts.Heatmaps) > 0 {
		t := time.NewTicker(opts.Interval)
		defer t.Stop()
		tick = t.C
	}
	flushed := true
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return errors.Join(readErr, o.finish(w, heat, opts))
			}
			show(w, ev)
		case <-tick:
			if err := heat.row(w); err != nil && opts.Warnings != nil {
				opts.Warnings(err)
			}
		}
		// A failed write stops the run as a failed read does; the readers
		// are still drained, so none is left running against a closed
		// object.
		if len(events) == 0 && flushed {
			if err := w.Flush(); err != nil {
				flushed = false
				fail(err)
			}
		}
	}
}

// finish shows what remains once the readers have ended: the printk
// lines still in the pipe and the heatmap row of the interval the stop
// cut short.
func (o *Object) finish(w output.Writer, heat *heatmaps, opts RunOptions) error {
	if o.printk != nil {
		lines, err := o.printk.read(0)
		if err != nil {
			return err
		}
		for _, l := range lines {
			w.Printf(l + "\n")
		}
	}
	if len(opts.Heatmaps) > 0 {
		if err := heat.row(w); err != nil && opts.Warnings != nil {
			opts.Warnings(err)
		}
	}
	return nil
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
