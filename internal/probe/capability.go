package probe

import "github.com/ebtrace/ebtrace/internal/kernel"

// ReturnOverrider is implemented by instances whose programs may change
// the probed function's return value with bpf_override_return: kprobes on
// a function's entry. override() is allowed only where it says true.
type ReturnOverrider interface {
	OverridesReturn() bool
}

// FunctionProber is implemented by instances that probe kernel functions
// by name (kprobes): a function may share its address with aliases
// (__x64_sys_getppid and __do_sys_getppid), and func shows the name the
// script probed.
type FunctionProber interface {
	Functions() []string
}

// CgroupPathID returns the id of the cgroup v2 directory path, through
// e.CgroupID when set.
func (e *Env) CgroupPathID(path string) (uint64, error) {
	if e.CgroupID != nil {
		return e.CgroupID(path)
	}
	return kernel.CgroupID(path)
}
