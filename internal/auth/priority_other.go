//go:build !linux

package auth

// lowPriorityThreads tells that lowerThreadPriority works here: only on Linux can one thread's
// priority be lowered alone.
const lowPriorityThreads = false

func lowerThreadPriority(int) {}
