package check

import (
	"fmt"
	"slices"

	"github.com/ebtrace/ebtrace/internal/source"
)

// unstableFeatures are what each unstable_* setting governs, as the
// subject of a sentence.
var unstableFeatures = map[string]string{
	"unstable_map_decl": "map declarations are",
	"unstable_tseries":  "tseries() is",
}

// unstable applies the setting of an unstable feature to its use at sp:
// under "error" the use is an error; under "warn", the default, the
// script's first use is a warning in Info.Warnings.
func (c *checker) unstable(sp source.Span, setting string) {
	what := unstableFeatures[setting]
	switch c.info.Config.Unstable[setting] {
	case "error":
		c.errorf(sp, "unstable", "%s an unstable feature, which %s = error refuses", what, setting).
			Hint("set %s = enable (or warn) in the config block to use it", setting)
	case "warn":
		code := "unstable-" + setting
		for _, d := range c.info.Warnings {
			if d.Code == code {
				return
			}
		}
		// In the script's order, whatever order the uses are checked in.
		i := len(c.info.Warnings)
		for i > 0 && c.info.Warnings[i-1].Span.Start > sp.Start {
			i--
		}
		c.info.Warnings = slices.Insert(c.info.Warnings, i, source.Diagnostic{
			Span: sp, Code: code, Warning: true,
			Message: what + " an unstable feature",
			Hints:   []string{fmt.Sprintf("set %s = enable in the config block to use it without this warning", setting)},
		})
	}
}
