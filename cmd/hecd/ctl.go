package main

import (
	"context"
	"io"
	"os"

	"hecd/internal/ctl"
)

// ctlCommand is "hecd ctl" and "etcdctl": etcdctl's v2 command line, all
// of it handled by internal/ctl. Values that set, mk and update do not get
// as arguments are read from the process's stdin, as etcdctl reads them.
func ctlCommand(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	return ctl.Main(ctx, args, environ, os.Stdin, stdout, stderr)
}
