package ebt

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/kernel"
)

// Host is the header of a recording beginning now on this machine, its
// Formats left for the caller.
func Host() (Header, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return Header{}, fmt.Errorf("uname: %w", err)
	}
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		return Header{}, err
	}
	btf, err := btfID()
	if err != nil {
		return Header{}, err
	}
	start, offset := clocks()
	return Header{
		Release:        unix.ByteSliceToString(u.Release[:]),
		Machine:        unix.ByteSliceToString(u.Machine[:]),
		Hostname:       unix.ByteSliceToString(u.Nodename[:]),
		BTF:            btf,
		Start:          start,
		RealtimeOffset: offset,
		CPUs:           cpus,
		BigEndian:      binary.NativeEndian.Uint16([]byte{0, 1}) == 1,
	}, nil
}

// btfID identifies the kernel's BTF by its hash, "" when it has none.
func btfID() (string, error) {
	raw, err := kernel.VmlinuxRaw()
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:8]), nil
}

// clocks reads CLOCK_MONOTONIC and how far CLOCK_REALTIME is ahead of it,
// taking of a few tries the realtime read that sat closest between two
// monotonic reads.
func clocks() (mono uint64, offset int64) {
	bestSpan := int64(-1)
	for range 8 {
		var m1, real, m2 unix.Timespec
		unix.ClockGettime(unix.CLOCK_MONOTONIC, &m1)
		unix.ClockGettime(unix.CLOCK_REALTIME, &real)
		unix.ClockGettime(unix.CLOCK_MONOTONIC, &m2)
		if span := m2.Nano() - m1.Nano(); bestSpan < 0 || span < bestSpan {
			bestSpan, mono, offset = span, uint64(m1.Nano()+span/2), real.Nano()-(m1.Nano()+span/2)
		}
	}
	return mono, offset
}
