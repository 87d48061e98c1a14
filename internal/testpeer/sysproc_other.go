//go:build !linux

package testpeer

import "syscall"

// setParentDeathSignal is a no-op where the kernel cannot signal a child when
// its parent dies; StopAll and t.Cleanup still stop the servers.
func setParentDeathSignal(attr *syscall.SysProcAttr, sig syscall.Signal) {}
