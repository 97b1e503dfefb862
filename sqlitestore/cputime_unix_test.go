//go:build unix

package sqlitestore_test

import "syscall"

// cpuTime returns the CPU time (user and system) the process has used, in ns. On a
// shared machine it says more about cost than the wall clock does.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
