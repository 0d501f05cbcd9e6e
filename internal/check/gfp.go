package check

import (
	"slices"

	"github.com/ebtrace/ebtrace/internal/printf"
	"github.com/ebtrace/ebtrace/internal/syntax"
)

// gfpNames reads the kernel's GFP flag names, once, for a format that
// prints flags with %gr: user space names them when the line prints.
func (c *checker) gfpNames(f *printf.Format, lit *syntax.StringLit) {
	if c.info.GFPFlags != nil || c.learning || !slices.ContainsFunc(f.Verbs(), printf.Verb.WantsGFP) {
		return
	}
	events, err := c.env.Events()
	if err == nil {
		c.info.GFPFlags, err = events.GFPFlags()
	}
	if err != nil {
		c.errorf(lit.Sp, "kernel", "%%gr needs the kernel's GFP flag names: %v", err).
			Hint("they come from tracefs: events/kmem/kmalloc/format")
	}
}
