package loadgen

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// PeakRSS is the high-water resident set size of process pid in bytes (VmHWM, Linux).
// It returns an error where /proc does not tell.
func PeakRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("loadgen: no VmHWM for process %d", pid)
}

// CPUTime is the user plus system CPU time process pid has used so far (Linux /proc).
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after its closing parenthesis
	// start with the state (field 3), so utime and stime (14 and 15) are the 12th and 13th.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("loadgen: short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("loadgen: bad /proc/%d/stat", pid)
	}
	// Linux reports clock ticks of 1/100 s (USER_HZ) on every architecture Go supports.
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// Family is pid followed by its child processes (a service and its hash workers), read from
// /proc/PID/task/*/children (Linux). A thread that ends meanwhile is skipped.
func Family(pid int) []int {
	out := []int{pid}
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return out
	}
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// FamilyPeakRSS is the sum of the peak RSS of pid and of each of its children (an upper
// bound of the family's peak at any one moment). It returns PeakRSS's errors.
func FamilyPeakRSS(pid int) (int64, error) {
	var sum int64
	for _, p := range Family(pid) {
		rss, err := PeakRSS(p)
		if err != nil {
			return 0, err
		}
		sum += rss
	}
	return sum, nil
}

// FamilyCPUTime is the CPU time used so far by pid and its living children. It returns
// CPUTime's errors.
func FamilyCPUTime(pid int) (time.Duration, error) {
	var sum time.Duration
	for _, p := range Family(pid) {
		d, err := CPUTime(p)
		if err != nil {
			return 0, err
		}
		sum += d
	}
	return sum, nil
}
