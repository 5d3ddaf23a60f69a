//go:build unix

package testnet

import (
	"os"
	"os/exec"
	"syscall"
)

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o600) }

// ownProcessGroup puts the process cmd starts in a group of its own, so
// that its children go with it if it must be killed.
func ownProcessGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// killProcessGroup kills the group ownProcessGroup made for p.
func killProcessGroup(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGKILL) }
