//go:build !amd64 && !arm64

package kernel

// syscallNames is empty where ebtrace has no table: syscall_name()
// prints the number.
var syscallNames = [...]string{}
