package kernel

import (
	"time"

	"golang.org/x/sys/unix"
)

// MonotonicNow reads CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns, in
// nanoseconds: where a script's elapsed counts from.
func MonotonicNow() uint64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return uint64(ts.Nano())
}

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

// TAIRealtimeOffset measures how far CLOCK_TAI is ahead of CLOCK_REALTIME:
// the TAI offset the kernel was given (0 when none was), which it keeps in
// whole seconds, so the reads' distance apart rounds away.
func TAIRealtimeOffset() time.Duration {
	var tai, real unix.Timespec
	unix.ClockGettime(unix.CLOCK_TAI, &tai)
	unix.ClockGettime(unix.CLOCK_REALTIME, &real)
	return time.Duration(tai.Nano() - real.Nano()).Round(time.Second)
}
