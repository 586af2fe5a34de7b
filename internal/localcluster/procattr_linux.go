package localcluster

import "syscall"

// procAttr makes the kernel kill an agent when the process that started it
// dies, so that a crashed or timed-out test leaves no agent behind.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
