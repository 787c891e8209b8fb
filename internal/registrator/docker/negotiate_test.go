package docker_test

import (
	"strings"
	"testing"

	"hecd/internal/registrator/docker"
	"hecd/internal/registrator/docker/fakeengine"
)

// TestNegotiation is spec C.10 scenario 14 and B.2: the version used is
// min(daemon maximum, ours), or the error names both numbers.
func TestNegotiation(t *testing.T) {
	for _, tc := range []struct {
		name     string
		min, max string // the daemon's range
		pin      string // WithAPIVersion
		env      string // DOCKER_API_VERSION
		want     string // version used; "" when it must fail
		errHas   []string
	}{
		{name: "engine 20.10", min: "1.12", max: "1.41", want: "1.41"},
		{name: "daemon advertising 1.40 only", min: "1.40", max: "1.40", want: "1.40"},
		{name: "daemon older than our minimum", min: "1.12", max: "1.39", errHas: []string{"1.39", docker.MinAPIVersion}},
		{name: "engine 29, minimum 1.44", min: "1.44", max: "1.52", want: "1.52"},
		{name: "daemon newer than us", min: "1.24", max: "1.99", want: docker.MaxAPIVersion},
		{name: "pinned within range", min: "1.12", max: "1.41", pin: "1.40", want: "1.40"},
		{name: "pinned below the daemon's minimum 1.44", min: "1.44", max: "1.52", pin: "1.41", errHas: []string{"1.41", "1.44"}},
		{name: "pinned above the daemon's maximum", min: "1.12", max: "1.41", pin: "1.45", errHas: []string{"1.45", "1.41"}},
		{name: "DOCKER_API_VERSION pins", min: "1.12", max: "1.41", env: "1.40", want: "1.40"},
		{name: "option beats DOCKER_API_VERSION", min: "1.12", max: "1.41", env: "1.24", pin: "1.41", want: "1.41"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			fe := fakeengine.New(t)
			fe.SetVersions(tc.min, tc.max)
			fe.SetServerVersion("99.0.0-fake")
			id := fe.Put(fakeengine.Container{})
			var opts []docker.Option
			if tc.pin != "" {
				opts = append(opts, docker.WithAPIVersion(tc.pin))
			}
			t.Setenv("DOCKER_API_VERSION", tc.env)
			t.Setenv("DOCKER_CERT_PATH", "")
			t.Setenv("DOCKER_TLS_VERIFY", "")
			c, err := docker.New(fe.Host(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()

			info, err := c.Info(ctx)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("Info succeeded with %+v, want an error naming %v", info, tc.errHas)
				}
				for _, s := range tc.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not name %s", err, s)
					}
				}
				// Every other call fails the same way rather than trying
				// its luck at some other version.
				if _, err := c.Running(ctx); err == nil {
					t.Error("Running succeeded after failed negotiation")
				}
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if info.APIVersion != tc.want || info.ServerVersion != "99.0.0-fake" {
				t.Errorf("Info = %+v, want API %s, server 99.0.0-fake", info, tc.want)
			}
			ids, err := c.Running(ctx)
			if err != nil || len(ids) != 1 || ids[0] != id {
				t.Fatalf("Running = %v, %v", ids, err)
			}
			for _, r := range fe.Requests() {
				if r.Path != "/_ping" && r.Version != tc.want {
					t.Errorf("%s %s sent at API %q, want %s", r.Method, r.Path, r.Version, tc.want)
				}
			}
		})
	}
}

// TestNegotiationFirstCall: a call before Info negotiates too (the
// library alone would send its maximum version and be refused).
func TestNegotiationFirstCall(t *testing.T) {
	ctx := testContext(t)
	fe := fakeengine.New(t)
	fe.SetVersions("1.12", "1.40")
	id := fe.Put(fakeengine.Container{})
	c := newClient(t, fe.Host())
	if _, err := c.Inspect(ctx, id); err != nil {
		t.Fatal(err)
	}
	if v := c.APIVersion(); v != "1.40" {
		t.Errorf("APIVersion = %s, want 1.40", v)
	}
}

// TestNegotiationFollowsDaemon: a failure is not remembered, and Info
// re-negotiates, so a daemon replaced by another version (up or down) is
// followed.
func TestNegotiationFollowsDaemon(t *testing.T) {
	ctx := testContext(t)
	fe := fakeengine.New(t)
	fe.SetVersions("1.12", "1.30")
	c := newClient(t, fe.Host())
	if _, err := c.Running(ctx); err == nil {
		t.Fatal("Running against API 1.30 succeeded")
	}
	fe.SetVersions("1.12", "1.41")
	if _, err := c.Running(ctx); err != nil {
		t.Fatalf("after the daemon's upgrade to 1.41: %v", err)
	}
	if v := c.APIVersion(); v != "1.41" {
		t.Errorf("APIVersion = %s, want 1.41", v)
	}
	fe.SetVersions("1.24", "1.47")
	info, err := c.Info(ctx)
	if err != nil || info.APIVersion != "1.47" {
		t.Errorf("after upgrade to 1.47: Info = %+v, %v", info, err)
	}
	fe.SetVersions("1.12", "1.40")
	info, err = c.Info(ctx)
	if err != nil || info.APIVersion != "1.40" {
		t.Errorf("after downgrade to 1.40: Info = %+v, %v", info, err)
	}
}
