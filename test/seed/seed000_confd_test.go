package seed

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"hecd/test/hecdproc"
)

// The seed's two registrations: the one its curl example writes, and the
// id of its delete example (with an address of our own choosing; nothing is
// ever sent to either address, no HAProxy runs here).
const (
	seedID1, seedValue1 = "acdea7a876c8", "54.222.199.254:32769"
	seedID2, seedValue2 = "kTutZ4chFqQlKCdrwQYG3Qxb1461922239", "54.200.188.47:32770"
)

// TestSeed000Confd renders seed 000's confd resource and HAProxy template,
// verbatim, with hecd confd: once with -onetime, then with the seed's
// daemon command line (-interval 10, log redirected with ">"), and compares
// the file byte for byte with testdata. The goldens were derived by hand
// from text/template's rules and checked with text/template itself: text
// outside actions is kept exactly, so every range leaves an indented blank
// line around each item.
func TestSeed000Confd(t *testing.T) {
	for _, tool := range []string{"curl", "bash", "nohup"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed: %v", tool, err)
		}
	}
	data := filepath.Join("testdata", "seed000-confd")
	checkSeed000ConfdVerbatim(t, data)
	bin, err := hecdproc.Binary()
	if err != nil {
		t.Fatal(err)
	}
	golden1 := readTestFile(t, filepath.Join(data, "haproxy.cfg.golden-1"))
	golden2 := readTestFile(t, filepath.Join(data, "haproxy.cfg.golden-2"))

	work := t.TempDir()
	host := strings.TrimPrefix(hecdproc.StartStore(t, "seed000confd").URL, "http://")

	// /etc/confd, moved: the resource with only dest and reload_cmd changed.
	confdir := filepath.Join(work, "confd")
	dest := filepath.Join(work, "haproxy.cfg")
	reloadLog := filepath.Join(work, "reloads")
	for _, d := range []string{"conf.d", "templates"} {
		if err := os.MkdirAll(filepath.Join(confdir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	toml := readTestFile(t, filepath.Join(data, "haproxy.toml"))
	for _, r := range [][2]string{
		{`"/etc/haproxy/haproxy.cfg"`, strconv.Quote(dest)},
		{`"/etc/init.d/haproxy reload"`, strconv.Quote("echo reload >> " + reloadLog)},
	} {
		if strings.Count(toml, r[0]) != 1 {
			t.Fatalf("testdata haproxy.toml must hold %s once", r[0])
		}
		toml = strings.Replace(toml, r[0], r[1], 1)
	}
	writeTestFile(t, filepath.Join(confdir, "conf.d", "haproxy.toml"), toml)
	writeTestFile(t, filepath.Join(confdir, "templates", "haproxy.cfg.tmpl"),
		readTestFile(t, filepath.Join(data, "haproxy.cfg.tmpl")))

	// "confd" on the PATH is hecd, as "etcd" is in the store seeds.
	binDir := filepath.Join(work, "bin")
	if err := os.Mkdir(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(binDir, "confd")); err != nil {
		t.Fatal(err)
	}
	env := append(hecdproc.Env(), "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	sh := func(line string) (string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", "-c", line)
		cmd.Dir, cmd.Env = work, env
		out, err := cmd.CombinedOutput()
		t.Logf("$ %s\n%s", line, out)
		return string(out), err
	}
	reloads := func() int {
		b, err := os.ReadFile(reloadLog)
		if os.IsNotExist(err) {
			return 0
		} else if err != nil {
			t.Fatal(err)
		}
		return strings.Count(string(b), "reload\n")
	}

	// The seed's registration command.
	if out, err := sh(`curl -XPUT http://` + host + `/v2/keys/app/servers/` + seedID1 + ` -d value="` + seedValue1 + `"`); err != nil ||
		!strings.Contains(out, `"action":"set"`) {
		t.Fatalf("curl -XPUT: %v", err)
	}

	// Once.
	if _, err := sh(strconv.Quote(bin) + ` confd -onetime -node 'http://` + host + `' -confdir ` + confdir); err != nil {
		t.Fatalf("hecd confd -onetime: %v", err)
	}
	if got := readTestFile(t, dest); got != golden1 {
		t.Fatalf("hecd confd -onetime rendered\n%s\nwant (testdata/seed000-confd/haproxy.cfg.golden-1)\n%s", got, golden1)
	}
	if n := reloads(); n != 1 {
		t.Errorf("reload_cmd ran %d times after -onetime, want 1", n)
	}

	// A second registration, then the seed's daemon command line.
	if out, err := sh(`curl -XPUT http://` + host + `/v2/keys/app/servers/` + seedID2 + ` -d value="` + seedValue2 + `"`); err != nil ||
		!strings.Contains(out, `"action":"set"`) {
		t.Fatalf("curl -XPUT: %v", err)
	}
	confdLog := filepath.Join(work, "confd.log")
	pidFile := filepath.Join(work, "confd.pid")
	daemonStart := time.Now()
	// The shell's own output goes to a file: the daemon inherits it, and a
	// pipe would keep the command "running" until the daemon ends.
	shErr, err := os.Create(filepath.Join(work, "nohup.err"))
	if err != nil {
		t.Fatal(err)
	}
	defer shErr.Close()
	line := `nohup confd  -interval 10 -node 'http://` + host + `' -confdir ` + confdir + ` > ` + confdLog + ` &` +
		` echo $! > ` + pidFile
	daemon := exec.Command("bash", "-c", line)
	daemon.Dir, daemon.Env = work, env
	daemon.Stdout, daemon.Stderr = shErr, shErr
	if err := daemon.Run(); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	t.Logf("$ %s", line)
	pid, err := strconv.Atoi(strings.TrimSpace(readTestFile(t, pidFile)))
	if err != nil {
		t.Fatalf("pid of the daemon: %v", err)
	}
	proc, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		proc.Signal(syscall.SIGTERM)
		// Not our child (bash started it), so poll for its end; whoever
		// adopted it may be slow to reap it, and a zombie has ended.
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if ended(pid) {
				return
			}
		}
		proc.Kill()
	}
	t.Cleanup(stop)

	// The first pass starts at once.
	waitDest := func(want string, timeout time.Duration, what string) time.Duration {
		t.Helper()
		begin := time.Now()
		for {
			got, _ := os.ReadFile(dest)
			if string(got) == want {
				return time.Since(begin)
			}
			if time.Since(begin) > timeout {
				b, _ := os.ReadFile(confdLog)
				t.Fatalf("%s: after %v the file is\n%s\nwant\n%s\nconfd.log:\n%s", what, timeout, got, want, b)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// The file is renamed into place before reload_cmd runs, so the
	// count is awaited, not read at once.
	waitReloads := func(want int, what string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for reloads() < want && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := reloads(); n != want {
			t.Errorf("reload_cmd ran %d times %s, want %d", n, what, want)
		}
	}
	d := waitDest(golden2, 5*time.Second, "the daemon's first pass")
	t.Logf("the daemon's first pass rendered both keys %v after its start", d.Round(time.Millisecond))
	waitReloads(2, "after the daemon's first pass")

	// The seed's delete command; the next pass, 10 s after the first,
	// removes the server again.
	if out, err := sh(`curl -L http://` + host + `/v2/keys/app/servers/` + seedID2 + ` -XDELETE`); err != nil ||
		!strings.Contains(out, `"action":"delete"`) {
		t.Fatalf("curl -XDELETE: %v", err)
	}
	waitDest(golden1, 15*time.Second, "the pass after the delete")
	t.Logf("the delete was rendered %v after the daemon's start (interval 10 s)", time.Since(daemonStart).Round(time.Millisecond))
	waitReloads(3, "after the delete")
	stop()

	// hecd logs to stdout, so the seed's "> /var/log/confd.log" keeps the log.
	logText := readTestFile(t, confdLog)
	t.Logf("confd.log:\n%s", logText)
	if strings.Count(logText, dest) < 2 {
		t.Errorf("confd.log does not report the updates of %s (two expected):\n%s", dest, logText)
	}
	if b, _ := os.ReadFile(shErr.Name()); len(b) > 0 {
		t.Logf("the daemon's stderr:\n%s", b)
	}
}

// ended reports whether process pid is gone or a zombie.
func ended(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) state ...: comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z' || s[i+2] == 'X'
}

// checkSeed000ConfdVerbatim compares testdata's resource and template with
// the blocks of the seed document.
func checkSeed000ConfdVerbatim(t *testing.T, data string) {
	t.Helper()
	doc := filepath.Join(sharedDir(t), "seeds", "000_e7a1abff83942215.txt")
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatalf("the seed document (to check that testdata is verbatim): %v", err)
	}
	lines := strings.Split(string(b), "\n")
	// fenced returns the lines of the code block that contains line i.
	fenced := func(i int) []string {
		open, end := i, i
		for open >= 0 && !strings.HasPrefix(strings.TrimLeft(lines[open], "\t "), "```") {
			open--
		}
		for end < len(lines) && !strings.HasPrefix(strings.TrimLeft(lines[end], "\t "), "```") {
			end++
		}
		if open < 0 || end == len(lines) {
			t.Fatalf("%s: no code block around line %d", doc, i+1)
		}
		return lines[open+1 : end]
	}
	find := func(line string) int {
		for i, l := range lines {
			if l == line {
				return i
			}
		}
		t.Fatalf("%s: no line %q", doc, line)
		return 0
	}
	// The resource is indented by one tab (it sits in a list item).
	var toml []string
	for _, l := range fenced(find("\t[template] \t ")) {
		toml = append(toml, strings.TrimPrefix(l, "\t"))
	}
	if got, want := readTestFile(t, filepath.Join(data, "haproxy.toml")), strings.Join(toml, "\n")+"\n"; got != want {
		t.Errorf("testdata haproxy.toml is not the seed's resource verbatim:\n%q\nwant\n%q", got, want)
	}
	tmpl := fenced(find("global"))
	if got, want := readTestFile(t, filepath.Join(data, "haproxy.cfg.tmpl")), strings.Join(tmpl, "\n")+"\n"; got != want {
		t.Errorf("testdata haproxy.cfg.tmpl is not the seed's template verbatim:\n%q\nwant\n%q", got, want)
	}
}

func readTestFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
