package hecdproc

import (
	"os"
	"os/exec"
)

// FindHAProxy returns the path of haproxy, or "". Debian installs it in
// /usr/sbin, which is not on an ordinary user's PATH.
func FindHAProxy() string {
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/haproxy", "/usr/local/sbin/haproxy"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}
