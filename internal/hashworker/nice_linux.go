package hashworker

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// lowerPriority puts every thread of this process in the scheduling class prio. On Linux the
// class and niceness belong to a thread (a thread id names one thread) and a new thread
// inherits its creator's; the runtime may start threads while the loop runs, so it repeats
// until a pass finds every thread already lowered. Lowering needs no privilege.
func lowerPriority(prio Priority) error {
	want := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: 0 /* SCHED_OTHER */, Nice: 19}
	if prio == Idle {
		want = unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}
	}
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
			if a, err := unix.SchedGetAttr(tid, 0); err == nil && a.Policy == want.Policy && a.Nice == want.Nice {
				continue
			}
			attr := want
			if err := unix.SchedSetAttr(tid, &attr, 0); err != nil && err != unix.ESRCH {
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
