//go:build !unix

package testnet

import (
	"errors"
	"os"
	"os/exec"
)

func mkfifo(string) error { return errors.New("testnet: the nginx helper needs Unix (named pipes)") }

func ownProcessGroup(*exec.Cmd) {}

func killProcessGroup(p *os.Process) { _ = p.Kill() }
