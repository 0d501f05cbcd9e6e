package arch

import "runtime"

// Host returns the table of the architecture ebtrace runs on, or an error
// naming it when it has none.
func Host() (*Regs, error) { return ByName(runtime.GOARCH) }
