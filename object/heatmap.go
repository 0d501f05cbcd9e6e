package object

import (
	"errors"

	"ebtrace/output"
)

// axisEvery is how many rows pass between two axis lines, so that a
// scrolling terminal always shows one.
const axisEvery = 20

// heatmaps draws the --heatmap maps: per interval, one row per map of
// the counts added since the previous row.
type heatmaps struct {
	o    *Object
	opts RunOptions
	prev map[string]output.HistValue
	rows int
}

func newHeatmaps(o *Object, opts RunOptions) *heatmaps {
	return &heatmaps{o: o, opts: opts, prev: map[string]output.HistValue{}}
}

// row writes one row per map, after the axis when it is due.
func (h *heatmaps) row(w output.Writer) error {
	var errs []error
	for _, name := range h.opts.Heatmaps {
		now, err := h.o.slots(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		added := output.HistValue{}
		for i, n := range now {
			if was := h.prev[name][i]; n > was {
				added[i] = n - was
			}
		}
		h.prev[name] = now
		if h.rows%axisEvery == 0 {
			w.Printf(output.HeatmapAxis() + "\n")
		}
		h.rows++
		w.Printf(output.HeatmapRow(added, h.opts.Text) + "\n")
	}
	return errors.Join(errs...)
}

// CheckSlotMaps reports a --heatmap or --hist map the object lacks or
// that is no map of log2 slots, before anything runs.
func (o *Object) CheckSlotMaps(names []string) error {
	var errs []error
	for _, name := range names {
		if _, err := o.slots(name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
