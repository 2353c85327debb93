package main

import (
	"os/exec"
	"syscall"
)

func init() {
	// Should the test binary die without running TestMain's cleanup (a panic, a timeout),
	// the kernel kills the service with it.
	prepareServer = func(cmd *exec.Cmd) {
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	}
}
