package kernel

import "golang.org/x/sys/unix"

// TAIOffset measures CLOCK_TAI minus CLOCK_BOOTTIME, for kernels whose BPF
// programs cannot read CLOCK_TAI (bpf_ktime_get_tai_ns is Linux 6.1): a TAI
// read between two boot clock reads stands for their midpoint, and of a few
// tries the one with the closest reads is kept. Both clocks count time
// suspended, so the offset holds until the time of day is set.
func TAIOffset() uint64 {
	var best, bestSpan int64 = 0, -1
	for range 8 {
		var b1, tai, b2 unix.Timespec
		unix.ClockGettime(unix.CLOCK_BOOTTIME, &b1)
		unix.ClockGettime(unix.CLOCK_TAI, &tai)
		unix.ClockGettime(unix.CLOCK_BOOTTIME, &b2)
		span := b2.Nano() - b1.Nano()
		if bestSpan < 0 || span < bestSpan {
			best, bestSpan = tai.Nano()-(b1.Nano()+span/2), span
		}
	}
	return uint64(best)
}
