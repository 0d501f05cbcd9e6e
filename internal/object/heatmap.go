package object

import (
	"errors"

	"github.com/ebtrace/ebtrace/internal/output"
)

// heatmaps draws the --heatmap maps: per interval, one row per map of
// the counts added since the previous row, through the writer's Heatmap
// as the script function heatmap() does (the axis repeats every
// output.HeatmapAxisEvery rows; JSON gets the cells' counts).
type heatmaps struct {
	o    *Object
	opts RunOptions
	prev map[string]output.HistValue
}

func newHeatmaps(o *Object, opts RunOptions) *heatmaps {
	return &heatmaps{o: o, opts: opts, prev: map[string]output.HistValue{}}
}

// row writes one row per map.
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
		w.Heatmap(&output.Map{Name: "@" + name, Kind: output.Hist, Entries: []output.Entry{{Value: added}}}, h.opts.Text)
	}
	return errors.Join(errs...)
}
