package hecdproc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// ClockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat,
// from getconf CLK_TCK; assumed is true when getconf failed and 100 (the
// value on every Linux architecture Go supports) is used.
func ClockTicks() (hz int, assumed bool) {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && n > 0 {
			return n, false
		}
	}
	return 100, true
}

// CPUTicks is the CPU time (utime+stime, all threads) the process has used
// so far, in clock ticks (see ClockTicks). /proc/PID/schedstat is finer
// but counts only one thread.
func CPUTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return ParseStatTicks(string(b))
}

// ParseStatTicks reads utime and stime from the text of /proc/PID/stat.
// The command name is in parentheses and may hold spaces and ')', so the
// fields are counted from the last ')': state is field 3, utime 14,
// stime 15.
func ParseStatTicks(st string) (int64, error) {
	i := strings.LastIndexByte(st, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	fields := strings.Fields(st[i+1:])
	if len(fields) < 13 {
		return 0, errors.New("short /proc stat")
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return utime + stime, nil
}
