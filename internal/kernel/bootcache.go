package kernel

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// cacheDir holds facts derived from kernel BTF for the current boot. It is
// on tmpfs, so a reboot (perhaps into another kernel) empties it.
var cacheDir = "/run/ebtrace"

// bootID names this boot of the kernel: the running kernel, its BTF and
// its modules' cannot change under it. It is read once per process, for
// every fact cached.
var bootID = sync.OnceValues(func() (string, error) {
	b, err := readFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b)), err
})

// bootCachedInt returns the fact name for this boot: from cacheDir when
// an earlier process computed it, else from compute, whose answer is then
// cached (parsing kernel BTF costs tens of milliseconds; reading a file
// costs microseconds). A fact that cannot be cached is computed each time;
// one that does not parse as a number of at least min is computed anew.
func bootCachedInt(name string, min int, compute func() (int, error)) (int, error) {
	boot, err := bootID()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	cache := filepath.Join(cacheDir, name+"-"+boot)
	if b, err := readFile(cache); err == nil {
		if v, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && v >= min {
			return v, nil
		}
	}
	v, err := compute()
	if err != nil {
		return 0, err
	}
	// A cache that cannot be written only costs the next run the work.
	if os.MkdirAll(cacheDir, 0o700) == nil {
		tmp := cache + ".tmp" + strconv.Itoa(os.Getpid())
		if os.WriteFile(tmp, []byte(strconv.Itoa(v)+"\n"), 0o600) == nil {
			os.Rename(tmp, cache)
		}
	}
	return v, nil
}

// BootSupports returns nil when the running kernel has what probe checks
// for, asking probe (which may load and run BPF programs) once per boot:
// a refusal, which may come of a passing want of memory or privilege, is
// probed anew each time.
func BootSupports(name string, probe func() error) error {
	_, err := bootCachedInt("has_"+name, 1, func() (int, error) {
		if err := probe(); err != nil {
			return 0, err
		}
		return 1, nil
	})
	return err
}

// errNotInt is resolve's answer for a type IntType does not cache.
var errNotInt = errors.New("not a plain integer type")

// IntType returns the size and signedness of the plain integer type that
// name, one of the kernel's typedefs such as pid_t, stands for, as
// resolve finds it in BTF, cached per boot: syscalls' arguments are
// declared with such types, and resolving one costs parsing kernel BTF.
// ok is false when it is none; only plain integers are cached, and only
// names that are C identifiers.
func IntType(name string, resolve func() (size int, signed, ok bool)) (size int, signed, ok bool) {
	if !identifier(name) {
		return resolve()
	}
	v, err := bootCachedInt("int_"+name, 2, func() (int, error) {
		size, signed, ok := resolve()
		if !ok {
			return 0, errNotInt
		}
		v := size * 2
		if signed {
			v++
		}
		return v, nil
	})
	if err != nil {
		return 0, false, false
	}
	return v / 2, v%2 == 1, true
}

func identifier(name string) bool {
	for i, r := range name {
		if !(r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || i > 0 && '0' <= r && r <= '9') {
			return false
		}
	}
	return name != ""
}
