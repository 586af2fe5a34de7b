//go:build !linux

package localcluster

import "syscall"

// procAttr has nothing to add where there is no parent-death signal.
func procAttr() *syscall.SysProcAttr { return nil }
