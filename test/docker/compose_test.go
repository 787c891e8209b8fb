package docker_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// composeFile is the part of docker-compose.yml the checks read.
type composeFile struct {
	Services map[string]struct {
		Build    any      `yaml:"build"`
		Image    string   `yaml:"image"`
		Command  []string `yaml:"command"`
		GroupAdd []string `yaml:"group_add"`
		Volumes  []string `yaml:"volumes"`
		Ports    []string `yaml:"ports"`
		Networks []string `yaml:"networks"`
		Restart  string   `yaml:"restart"`
	} `yaml:"services"`
	Networks map[string]struct {
		Name string `yaml:"name"`
	} `yaml:"networks"`
	Volumes map[string]any `yaml:"volumes"`
}

// TestComposeFile checks the example docker-compose.yml without Docker:
// it parses, runs "hecd up" from the repository's Dockerfile with the
// socket read-only, the socket's group, a data volume on the image's data
// dir, the proxy's port, and internal mode on a network whose name apps
// can use as is.
func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile(repoFile(t, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	s, ok := f.Services["hecd"]
	if !ok {
		t.Fatalf("no service hecd in %v", f.Services)
	}
	if s.Build != "." {
		t.Errorf("build: %v, want . (the repository's Dockerfile)", s.Build)
	}
	if _, err := os.Stat(repoFile(t, "Dockerfile")); err != nil {
		t.Error(err)
	}
	if len(s.Command) == 0 || s.Command[0] != "up" {
		t.Errorf("command %q, want hecd up", s.Command)
	}
	if !slices.Contains(s.Volumes, "/var/run/docker.sock:/var/run/docker.sock:ro") {
		t.Errorf("volumes %q: want the Docker socket mounted read-only", s.Volumes)
	}
	dataVolume := ""
	for _, v := range s.Volumes {
		if src, dst, _ := strings.Cut(v, ":"); dst == "/data" || strings.HasPrefix(dst, "/data:") {
			dataVolume = src
		}
	}
	if _, ok := f.Volumes[dataVolume]; !ok {
		t.Errorf("volumes %q: want a named volume (declared at the top level) on /data, the image's data dir", s.Volumes)
	}
	if !slices.ContainsFunc(s.Ports, func(p string) bool { return strings.HasSuffix(p, ":8000") }) {
		t.Errorf("ports %q: want the proxy's port 8000 published", s.Ports)
	}
	// A recreated container has a new hostname; the owner id must not
	// follow it, or the new container does not own the old one's routes.
	if !slices.Contains(s.Volumes, "/etc/machine-id:/etc/machine-id:ro") && !slices.Contains(s.Command, "-owner-id") {
		t.Errorf("volumes %q, command %q: want a stable owner id (the host's /etc/machine-id, or -owner-id)", s.Volumes, s.Command)
	}
	if len(s.GroupAdd) != 1 || !strings.Contains(s.GroupAdd[0], "DOCKER_GID") {
		t.Errorf("group_add %q: want the Docker socket's group (DOCKER_GID), as the image runs as a non-root user", s.GroupAdd)
	}
	// Internal mode on the compose network, whose fixed name is what
	// "docker run --network" and -network use.
	network := ""
	if i := slices.Index(s.Command, "-network"); i >= 0 && i+1 < len(s.Command) {
		network = s.Command[i+1]
	}
	if !slices.Contains(s.Command, "-internal") || network == "" {
		t.Errorf("command %q: want -internal -network NET", s.Command)
	}
	found := false
	for key, n := range f.Networks {
		if n.Name == network && slices.Contains(s.Networks, key) {
			found = true
		}
	}
	if !found {
		t.Errorf("-network %q is not the name of a network the service joins (networks %v, service networks %q)", network, f.Networks, s.Networks)
	}

	// docker-compose itself, where installed, must accept the file.
	if _, err := exec.LookPath("docker-compose"); err != nil {
		t.Log("docker-compose not installed; the file was checked with yaml.v3 only")
		return
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker-compose", "--file", filepath.Join(dir, "docker-compose.yml"), "config", "--quiet")
	cmd.Env = append(os.Environ(), "DOCKER_GID=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("docker-compose config: %v\n%s", err, out)
	}
}

// TestDockerfile checks the parts of the Dockerfile that the image test
// cannot see when Docker is missing: a scratch image of the host-built
// binary, and a build context of that binary alone.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(repoFile(t, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var froms, copies []string
	instr := map[string]string{}
	for l := range strings.Lines(string(b)) {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		op, arg, _ := strings.Cut(l, " ")
		op = strings.ToUpper(op)
		instr[op] = arg
		switch op {
		case "FROM":
			froms = append(froms, arg)
		case "COPY":
			copies = append(copies, arg)
		}
	}
	for _, f := range froms {
		if base, _, _ := strings.Cut(f, " "); base != "scratch" {
			t.Errorf("FROM %s: every stage must be scratch (no registry to pull from)", f)
		}
	}
	if !slices.Contains(copies, "hecd /hecd") {
		t.Errorf("COPY %q: want the host-built binary copied to /hecd", copies)
	}
	for op, want := range map[string]string{"ENTRYPOINT": `["/hecd"]`, "CMD": `["up"]`} {
		if instr[op] != want {
			t.Errorf("%s %s, want %s", op, instr[op], want)
		}
	}
	if uid, _, _ := strings.Cut(instr["USER"], ":"); uid == "" || uid == "0" || strings.Trim(uid, "0123456789") != "" {
		t.Errorf("USER %q: want a numeric non-root uid", instr["USER"])
	}
	ignore, err := os.ReadFile(repoFile(t, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for l := range strings.Lines(string(ignore)) {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			rules = append(rules, l)
		}
	}
	if !slices.Equal(rules, []string{"*", "!hecd"}) {
		t.Errorf(".dockerignore rules %q, want everything but the binary left out", rules)
	}
}
