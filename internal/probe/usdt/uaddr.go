package usdt

import "github.com/ebtrace/ebtrace/internal/probe/uprobe"

// UserAddr implements probe.UserSymbols: uaddr() in a USDT probe names a
// symbol of the probe's binary.
func (i *instance) UserAddr(name string) (addr, size uint64, err error) {
	return uprobe.SymbolAddr(i.path, i.pid, name)
}
