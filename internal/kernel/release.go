package kernel

import (
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// ReleaseAtLeast reports whether the running kernel is version
// major.minor or later by its release (uname -r): for what a feature probe
// would cost more than it tells, because a later kernel only relaxes a
// rule. A release that does not parse is not.
func ReleaseAtLeast(major, minor int) bool {
	return releaseAtLeast(runningRelease(), major, minor)
}

// runningRelease is the running kernel's release, "" when uname fails.
var runningRelease = sync.OnceValue(func() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
})

// releaseAtLeast reports whether the kernel release string (uname -r, such
// as "6.18.44-cloud-amd64") is version major.minor or later; a release that
// does not parse is not.
func releaseAtLeast(release string, major, minor int) bool {
	fields := strings.SplitN(release, ".", 3)
	if len(fields) < 2 {
		return false
	}
	maj, err := strconv.Atoi(fields[0])
	if err != nil {
		return false
	}
	end := strings.IndexFunc(fields[1], func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(fields[1])
	}
	min, err := strconv.Atoi(fields[1][:end])
	if err != nil {
		return false
	}
	return maj > major || maj == major && min >= minor
}
