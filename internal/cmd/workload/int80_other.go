//go:build !amd64

package main

import "errors"

func compatGetpid(int) error {
	return errors.New("int80: 32-bit syscalls are made on amd64 only")
}
