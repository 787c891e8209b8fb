package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// wrkResult is what the bench reads from wrk's report.
type wrkResult struct {
	Requests  int64   `json:"requests"` // answers of any status
	Seconds   float64 `json:"seconds"`  // wrk's own measure of the run
	ReqPerSec float64 `json:"req_per_sec"`
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
	Non2xx    int64   `json:"non_2xx_3xx"`
	Connect   int64   `json:"socket_connect"`
	Read      int64   `json:"socket_read"`
	Write     int64   `json:"socket_write"`
	Timeout   int64   `json:"socket_timeout"`
}

// SocketErrors is the sum of wrk's four socket error counts.
func (r wrkResult) SocketErrors() int64 { return r.Connect + r.Read + r.Write + r.Timeout }

// Errors counts every request that did not get a 2xx or 3xx answer.
func (r wrkResult) Errors() int64 { return r.Non2xx + r.SocketErrors() }

// parseWrk reads wrk 4's report (run with --latency). Requests/sec, the
// request count and the 99% latency must be there; the error lines are
// printed only when there were errors.
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	var haveRate, haveCount, haveP99 bool
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return r, fmt.Errorf("wrk Requests/sec %q: %v", f[1], err)
			}
			r.ReqPerSec, haveRate = v, true
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			// The "Latency Distribution" lines: "99%    3.21ms". wrk's
			// units (us, ms, s, m, h) are Go's.
			d, err := time.ParseDuration(f[1])
			if err != nil {
				return r, fmt.Errorf("wrk latency %q: %v", f[1], err)
			}
			if f[0] == "50%" {
				r.P50Ms = ms(d)
			} else {
				r.P99Ms, haveP99 = ms(d), true
			}
		case len(f) >= 4 && f[1] == "requests" && f[2] == "in":
			// "123456 requests in 5.00s, 15.23MB read"
			n, err1 := strconv.ParseInt(f[0], 10, 64)
			d, err2 := time.ParseDuration(strings.TrimSuffix(f[3], ","))
			if err := errors.Join(err1, err2); err != nil {
				return r, fmt.Errorf("wrk line %q: %v", strings.TrimSpace(line), err)
			}
			r.Requests, r.Seconds, haveCount = n, d.Seconds(), true
		case strings.HasPrefix(strings.TrimSpace(line), "Non-2xx or 3xx responses:"):
			n, err := strconv.ParseInt(f[len(f)-1], 10, 64)
			if err != nil {
				return r, fmt.Errorf("wrk line %q: %v", strings.TrimSpace(line), err)
			}
			r.Non2xx = n
		case strings.HasPrefix(strings.TrimSpace(line), "Socket errors:"):
			// "Socket errors: connect 0, read 12, write 0, timeout 0"
			_, rest, _ := strings.Cut(line, ":")
			for part := range strings.SplitSeq(rest, ",") {
				kv := strings.Fields(part)
				if len(kv) != 2 {
					return r, fmt.Errorf("wrk line %q: cannot read %q", strings.TrimSpace(line), part)
				}
				n, err := strconv.ParseInt(kv[1], 10, 64)
				if err != nil {
					return r, fmt.Errorf("wrk line %q: %v", strings.TrimSpace(line), err)
				}
				switch kv[0] {
				case "connect":
					r.Connect = n
				case "read":
					r.Read = n
				case "write":
					r.Write = n
				case "timeout":
					r.Timeout = n
				}
			}
		}
	}
	if !haveRate || !haveCount || !haveP99 {
		return r, errors.New("wrk printed no Requests/sec, request count or 99% latency")
	}
	return r, nil
}

// wrkSpec is one wrk run.
type wrkSpec struct {
	url      string
	headers  []string // "Name: value"
	duration time.Duration
	// stop, when not nil, ends the run early: wrk stops on SIGINT and
	// still prints its report.
	stop <-chan struct{}
}

// runWrk runs wrk and parses its report; raw is wrk's output, for -v and
// error messages.
func runWrk(ctx context.Context, cfg *config, s wrkSpec) (res wrkResult, raw string, err error) {
	secs := max(1, int(s.duration.Round(time.Second)/time.Second))
	args := []string{fmt.Sprintf("-t%d", cfg.threads), fmt.Sprintf("-c%d", cfg.connections),
		fmt.Sprintf("-d%ds", secs), "--latency"}
	for _, h := range s.headers {
		args = append(args, "-H", h)
	}
	args = append(args, s.url)
	cmd := exec.Command(cfg.wrk, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return res, "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// wrk should end by itself a little after its duration; the margin
	// covers its start-up and the 2 s request timeout of the last requests.
	limit := time.NewTimer(s.duration + 30*time.Second)
	defer limit.Stop()
	stop := s.stop
	for {
		select {
		case err = <-done:
			raw = out.String()
			if err != nil {
				return res, raw, fmt.Errorf("wrk %s: %v\n%s", strings.Join(args, " "), err, raw)
			}
			res, err = parseWrk(raw)
			if err != nil {
				err = fmt.Errorf("%w\n%s", err, raw)
			}
			return res, raw, err
		case <-stop:
			cmd.Process.Signal(syscall.SIGINT)
			stop = nil
		case <-limit.C:
			cmd.Process.Kill()
			<-done
			return res, out.String(), fmt.Errorf("wrk did not end within %v", s.duration+30*time.Second)
		case <-ctx.Done():
			cmd.Process.Kill()
			<-done
			return res, out.String(), ctx.Err()
		}
	}
}
