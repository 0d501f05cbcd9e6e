package kernel

import "testing"

func TestAccessDenied(t *testing.T) {
	const all = 1<<capDACReadSearch | 1<<capPerfmon | 1<<capBPF
	for _, tc := range []struct {
		access Access
		want   string
	}{
		{Access{Euid: 1000, Lockdown: "none"},
			"needs root, or the CAP_BPF, CAP_PERFMON and CAP_DAC_READ_SEARCH capabilities, to trace the kernel (running as uid 1000)"},
		{Access{Euid: 0, Caps: 1 << capDACReadSearch, Lockdown: "none"},
			"ebtrace runs as root without CAP_BPF, CAP_PERFMON (a container or capsh dropped them)"},
		{Access{Euid: 0, Caps: all, Lockdown: "integrity", LSMs: []string{"lockdown", "bpf"}},
			"ebtrace runs as root with the capabilities tracing needs, but kernel lockdown is in integrity mode (/sys/kernel/security/lockdown), which refuses some tracing even to root"},
		{Access{Euid: 0, Caps: all},
			"ebtrace runs as root with the capabilities tracing needs; kernel lockdown may refuse it (/sys/kernel/security/lockdown is unreadable, so its mode is unknown)"},
		{Access{Euid: 0, Caps: 1<<capSysAdmin | 1<<capDACReadSearch, Lockdown: "none", LSMs: []string{"capability", "apparmor"}},
			"ebtrace runs as root with the capabilities tracing needs and no lockdown; a security module may refuse it (active: apparmor)"},
		{Access{Euid: 1000, Caps: all, Lockdown: "none", LSMs: []string{"capability"}},
			"ebtrace runs as uid 1000 with the capabilities tracing needs, and no lockdown or security module is known to refuse it"},
	} {
		if got := tc.access.Denied(); got != tc.want {
			t.Errorf("%+v:\n got %s\nwant %s", tc.access, got, tc.want)
		}
	}
}

// TestCurrentAccess checks that, as root, CurrentAccess finds the lockdown
// mode (mounting securityfs when it is missing) on kernels that have one.
func TestCurrentAccess(t *testing.T) {
	a := CurrentAccess()
	if a.Euid != 0 {
		t.Skip("as root, CurrentAccess mounts securityfs to read lockdown")
	}
	if a.Lockdown == "" {
		t.Skipf("no lockdown mode: the kernel has no %s even with securityfs mounted (no CONFIG_SECURITY_LOCKDOWN_LSM)", lockdownFile)
	}
	switch a.Lockdown {
	case "none", "integrity", "confidentiality":
	default:
		t.Errorf("lockdown mode %q", a.Lockdown)
	}
}
