// Command startfloor is bench/attach.sh's exec floor: a Go program that does
// nothing but write "main" to stderr as soon as its main runs, so that
// benchrun -match times spawning a static Go binary, exec and the Go
// runtime's own initialisation, with no package of its own to initialise.
package main

import "os"

func main() {
	os.Stderr.WriteString("main\n")
}
