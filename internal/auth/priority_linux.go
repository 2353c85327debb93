package auth

import "golang.org/x/sys/unix"

// lowPriorityThreads tells that lowerThreadPriority works here.
const lowPriorityThreads = true

// lowerThreadPriority sets the niceness of the calling OS thread alone (on Linux
// PRIO_PROCESS with a thread id names that one thread). Raising niceness needs no privilege;
// a failure leaves the thread at the process's priority, which is only slower to yield.
func lowerThreadPriority(nice int) {
	_ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), nice)
}
