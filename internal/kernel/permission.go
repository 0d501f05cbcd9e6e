package kernel

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Capabilities tracing needs, by number (linux/capability.h).
const (
	capDACReadSearch = 2
	capSysAdmin      = 21
	capPerfmon       = 38
	capBPF           = 39
)

// Access is what decides whether the kernel lets this process trace: who
// it runs as, its effective capabilities, kernel lockdown and the security
// modules. Denied turns it into a sentence when the kernel said EPERM.
type Access struct {
	Euid     int
	Caps     uint64   // effective capability bits
	Lockdown string   // "none", "integrity", "confidentiality", or "" unknown
	LSMs     []string // active security modules, from securityfs
}

// CurrentAccess reads Access for this process, once: neither its
// capabilities nor the kernel's lockdown change while it runs, and several
// callers (--info, fentry's check, the error printer) ask. As root it
// mounts securityfs when it is missing, as ebtrace does tracefs, to read
// the lockdown mode and the security modules.
var CurrentAccess = sync.OnceValue(readAccess)

func readAccess() Access {
	a := Access{Euid: os.Geteuid()}
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
				a.Caps, _ = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			}
		}
	}
	dir := filepath.Dir(lockdownFile)
	if _, err := os.Stat(lockdownFile); errors.Is(err, os.ErrNotExist) && a.Euid == 0 {
		unix.Mount("securityfs", dir, "securityfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	}
	if b, err := os.ReadFile(lockdownFile); err == nil {
		a.Lockdown = parseLockdown(string(b))
	}
	if b, err := os.ReadFile(filepath.Join(dir, "lsm")); err == nil {
		a.LSMs = strings.Split(strings.TrimSpace(string(b)), ",")
	}
	return a
}

// missingCaps lists the capabilities tracing needs that a lacks.
func (a Access) missingCaps() []string {
	has := func(c uint) bool { return a.Caps&(1<<c) != 0 }
	var missing []string
	if !has(capBPF) && !has(capSysAdmin) {
		missing = append(missing, "CAP_BPF")
	}
	if !has(capPerfmon) && !has(capSysAdmin) {
		missing = append(missing, "CAP_PERFMON")
	}
	if !has(capDACReadSearch) {
		missing = append(missing, "CAP_DAC_READ_SEARCH")
	}
	return missing
}

// Privileged reports whether the process holds every capability tracing
// needs, so that an EPERM comes from something else.
func (a Access) Privileged() bool { return len(a.missingCaps()) == 0 }

// Denied says what most likely made the kernel refuse with EPERM: missing
// privileges first, then lockdown, then a security module that can refuse
// BPF. It names what it could not rule out rather than guess one cause.
func (a Access) Denied() string {
	missing := a.missingCaps()
	switch {
	case a.Euid != 0 && len(missing) > 0:
		return fmt.Sprintf("needs root, or the CAP_BPF, CAP_PERFMON and CAP_DAC_READ_SEARCH capabilities, to trace the kernel (running as uid %d)", a.Euid)
	case len(missing) > 0:
		return fmt.Sprintf("ebtrace runs as root without %s (a container or capsh dropped them)", strings.Join(missing, ", "))
	}
	who := "root"
	if a.Euid != 0 {
		who = fmt.Sprintf("uid %d", a.Euid)
	}
	switch a.Lockdown {
	case "none":
	case "":
		return fmt.Sprintf("ebtrace runs as %s with the capabilities tracing needs; kernel lockdown may refuse it (%s is unreadable, so its mode is unknown)", who, lockdownFile)
	default:
		return fmt.Sprintf("ebtrace runs as %s with the capabilities tracing needs, but kernel lockdown is in %s mode (%s), which refuses some tracing even to root", who, a.Lockdown, lockdownFile)
	}
	var lsms []string
	for _, lsm := range a.LSMs {
		switch lsm {
		case "selinux", "apparmor", "bpf", "smack", "tomoyo":
			lsms = append(lsms, lsm)
		}
	}
	if len(lsms) > 0 {
		return fmt.Sprintf("ebtrace runs as %s with the capabilities tracing needs and no lockdown; a security module may refuse it (active: %s)", who, strings.Join(lsms, ", "))
	}
	return fmt.Sprintf("ebtrace runs as %s with the capabilities tracing needs, and no lockdown or security module is known to refuse it", who)
}
