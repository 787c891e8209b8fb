package confd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"text/template"
	"time"
)

// expandCommand fills {{.src}} and {{.dest}} in a check or reload command.
// As in confd, the command is a template without functions.
func expandCommand(cmd, src, dest string) (string, error) {
	t, err := template.New("cmd").Parse(cmd)
	if err != nil {
		return "", fmt.Errorf("command %q: %w", cmd, err)
	}
	var b strings.Builder
	if err := t.Execute(&b, map[string]string{"src": src, "dest": dest}); err != nil {
		return "", fmt.Errorf("command %q: %w", cmd, err)
	}
	return b.String(), nil
}

// runCommand runs cmd with /bin/sh -c, as confd does, and returns its
// combined output. Unlike confd it gives up after timeout (0: never): the
// command's whole process group is killed, so a hung reload cannot block
// the renderer forever.
func runCommand(ctx context.Context, cmd string, timeout time.Duration) ([]byte, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	c := exec.Command("/bin/sh", "-c", cmd)
	var out bytes.Buffer
	c.Stdout = &out
	c.Stderr = &out
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A reload that starts a daemon may leave it holding our output pipe;
	// stop reading a moment after the command itself has exited.
	c.WaitDelay = time.Second
	if err := c.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		return out.Bytes(), err
	case <-ctx.Done():
		// Kill the group: "sh -c" may have children holding the pipes.
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		err := <-done
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return out.Bytes(), fmt.Errorf("timed out after %v (killed): %w", timeout, errOrExit(err))
		}
		return out.Bytes(), ctx.Err()
	}
}

func errOrExit(err error) error {
	if err == nil {
		return errors.New("killed")
	}
	return err
}
