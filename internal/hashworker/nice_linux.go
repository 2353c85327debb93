package hashworker

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// lowerPriority sets the niceness of every thread of this process. On Linux niceness belongs
// to a thread (PRIO_PROCESS with a thread id names one thread) and a new thread inherits its
// creator's; the runtime may start threads while the loop runs, so it repeats until a pass
// finds every thread already niced. Raising niceness needs no privilege.
func lowerPriority(nice int) error {
	for range 10 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		changed := false
		for _, task := range tasks {
			tid, err := strconv.Atoi(task.Name())
			if err != nil {
				continue
			}
			// getpriority(2) answers 20 - nice.
			if p, err := unix.Getpriority(unix.PRIO_PROCESS, tid); err == nil && 20-p == nice {
				continue
			}
			if err := unix.Setpriority(unix.PRIO_PROCESS, tid, nice); err != nil && err != unix.ESRCH {
				return err
			}
			changed = true
		}
		if !changed {
			return nil
		}
	}
	return nil
}
