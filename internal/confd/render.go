package confd

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"hecd/internal/confd/tmplfunc"
)

// resourceState is what the renderer remembers of a resource between
// passes.
type resourceState struct {
	// reloadPending is set when the destination was replaced but its
	// reload command failed: confd forgot such a reload (the next pass saw
	// the file in sync); hecd runs it again until it succeeds.
	reloadPending bool
}

// process renders one resource from the backend's current values and,
// when the result differs from the destination, checks, installs and
// reloads it. fetched says whether the values were read, and index is the
// backend index they were read at.
func (rd *Renderer) process(ctx context.Context, r *Resource, st *resourceState) (index uint64, fetched bool, err error) {
	log := rd.log
	log.Debug("Retrieving keys from store")
	log.Debug("Key prefix set to " + r.Prefix)
	values, index, err := rd.cfg.Backend.GetValues(ctx, r.PrefixedKeys())
	if err != nil {
		return 0, false, err
	}
	return index, true, rd.processValues(ctx, r, st, values)
}

// storeValues re-roots the backend's keys: the prefix is cut off as a
// string and the rest is put under "/", so templates never see prefixes.
func storeValues(prefix string, values map[string]string) map[string]string {
	out := make(map[string]string, len(values))
	for k, v := range values {
		out[path.Join("/", strings.TrimPrefix(k, prefix))] = v
	}
	return out
}

func (rd *Renderer) processValues(ctx context.Context, r *Resource, st *resourceState, values map[string]string) error {
	log := rd.log
	kv := storeValues(r.Prefix, values)
	log.Debug(fmt.Sprintf("Got the following map from store: %v", kv))

	mode := r.Mode
	if !r.ModeSet {
		mode = 0o644
		if fi, err := os.Stat(r.Dest); err == nil {
			mode = fi.Mode().Perm() | fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)
		}
	}

	log.Debug("Using source template " + r.Src)
	text, err := os.ReadFile(r.Src)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("Missing template: %s", r.Src)
		}
		return err
	}
	log.Debug("Compiling source template " + r.Src)
	var rendered bytes.Buffer
	if err := tmplfunc.Render(filepath.Base(r.Src), string(text), tmplfunc.NewStore(kv), &rendered); err != nil {
		return fmt.Errorf("Unable to process template %s, %w", r.Src, err)
	}

	stage, err := rd.writeStage(r, rendered.Bytes(), mode)
	if err != nil {
		return err
	}
	installed := false
	defer func() {
		if installed {
			return
		}
		if rd.cfg.KeepStageFile {
			log.Info("Keeping staged file: " + stage)
			return
		}
		os.Remove(stage)
	}()

	log.Debug("Comparing candidate config to " + r.Dest)
	changed, err := rd.differs(r, stage, rendered.Bytes(), mode)
	if err != nil {
		return err
	}
	if rd.cfg.Noop {
		if changed {
			log.Warn(fmt.Sprintf("Noop mode enabled. %s will not be modified", r.Dest))
			rd.printDiff(r.Dest, rendered.Bytes())
		} else {
			log.Debug(fmt.Sprintf("Noop mode enabled. Target config %s in sync", r.Dest))
		}
		return nil
	}
	if !changed {
		log.Debug(fmt.Sprintf("Target config %s in sync", r.Dest))
		if st.reloadPending && !rd.cfg.SyncOnly {
			log.Info(fmt.Sprintf("Retrying the reload of %s, which failed before", r.Dest))
			return rd.reload(ctx, r, st)
		}
		return nil
	}
	log.Info(fmt.Sprintf("Target config %s out of sync", r.Dest))
	if !rd.cfg.SyncOnly && r.CheckCmd != "" {
		if err := rd.check(ctx, r, stage); err != nil {
			return err
		}
	}
	log.Debug("Overwriting target config " + r.Dest)
	if err := install(stage, r.Dest, rendered.Bytes(), mode, r.UID, r.GID); err != nil {
		return err
	}
	installed = true
	if !rd.cfg.SyncOnly && r.ReloadCmd != "" {
		st.reloadPending = true
		if err := rd.reload(ctx, r, st); err != nil {
			return err
		}
	}
	log.Info(fmt.Sprintf("Target config %s has been updated", r.Dest))
	return nil
}

// writeStage renders into a hidden file beside the destination, so that
// the final rename is atomic on the same file system.
func (rd *Renderer) writeStage(r *Resource, content []byte, mode fs.FileMode) (string, error) {
	dir, base := filepath.Split(r.Dest)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base)
	if err != nil {
		return "", err
	}
	name := f.Name()
	_, werr := f.Write(content)
	if serr := f.Sync(); werr == nil {
		werr = serr
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(name)
		return "", werr
	}
	if err := os.Chmod(name, mode); err != nil {
		os.Remove(name)
		return "", err
	}
	if err := os.Lchown(name, r.UID, r.GID); err != nil {
		// confd ignored this; then the owner never matches and every pass
		// rewrites and reloads. Say so once per pass instead.
		if fi, serr := os.Stat(name); serr != nil || !ownedBy(fi, r.UID, r.GID) {
			os.Remove(name)
			return "", fmt.Errorf("setting owner %d:%d on %s: %w", r.UID, r.GID, name, err)
		}
	}
	return name, nil
}

func ownedBy(fi fs.FileInfo, uid, gid int) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == uid && int(st.Gid) == gid
}

// differs compares the stage file with the destination as confd does:
// owner, group, mode and content, logging each difference.
func (rd *Renderer) differs(r *Resource, stage string, content []byte, mode fs.FileMode) (bool, error) {
	fi, err := os.Stat(r.Dest)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	changed := false
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if int(st.Uid) != r.UID {
			rd.log.Info(fmt.Sprintf("%s has UID %d should be %d", r.Dest, st.Uid, r.UID))
			changed = true
		}
		if int(st.Gid) != r.GID {
			rd.log.Info(fmt.Sprintf("%s has GID %d should be %d", r.Dest, st.Gid, r.GID))
			changed = true
		}
	}
	if got := fi.Mode().Perm() | fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky); got != mode {
		rd.log.Info(fmt.Sprintf("%s has mode %s should be %s", r.Dest, got, mode))
		changed = true
	}
	old, err := os.ReadFile(r.Dest)
	if err != nil {
		return false, err
	}
	if !bytes.Equal(old, content) {
		rd.log.Info(fmt.Sprintf("%s has md5sum %s should be %s", r.Dest, md5hex(old), md5hex(content)))
		changed = true
	}
	return changed, nil
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func (rd *Renderer) check(ctx context.Context, r *Resource, stage string) error {
	cmd, err := expandCommand(r.CheckCmd, stage, r.Dest)
	if err != nil {
		return err
	}
	rd.log.Debug("Running " + cmd)
	out, err := runCommand(ctx, cmd, rd.cfg.CommandTimeout)
	if err != nil {
		rd.log.Error(fmt.Sprintf("%q", out))
		return fmt.Errorf("Config check failed: %w", err)
	}
	rd.log.Debug(fmt.Sprintf("%q", out))
	return nil
}

// reload runs the reload command. {{.src}} and {{.dest}} both name the
// installed file here (confd left {{.src}} unexpanded).
func (rd *Renderer) reload(ctx context.Context, r *Resource, st *resourceState) error {
	cmd, err := expandCommand(r.ReloadCmd, r.Dest, r.Dest)
	if err != nil {
		return err
	}
	rd.log.Debug("Running " + cmd)
	out, err := runCommand(ctx, cmd, rd.cfg.CommandTimeout)
	if err != nil {
		rd.log.Error(fmt.Sprintf("%q", out))
		return &reloadError{err: err}
	}
	rd.log.Debug(fmt.Sprintf("%q", out))
	st.reloadPending = false
	return nil
}

// reloadError marks a failure after the destination was replaced: the
// reload is retried even though the file is now in sync.
type reloadError struct{ err error }

func (e *reloadError) Error() string { return e.err.Error() }
func (e *reloadError) Unwrap() error { return e.err }

// install puts the stage file in place by rename. When the destination is
// a bind-mounted file (rename gives EBUSY, common in containers), it falls
// back to writing the content in place, as confd does.
func install(stage, dest string, content []byte, mode fs.FileMode, uid, gid int) error {
	err := os.Rename(stage, dest)
	if err == nil {
		return syncDir(filepath.Dir(dest))
	}
	if !errors.Is(err, syscall.EBUSY) {
		return err
	}
	if err := os.WriteFile(dest, content, mode); err != nil {
		return err
	}
	_ = os.Chown(dest, uid, gid)
	return os.Remove(stage)
}

// syncDir makes the rename durable, so that after a crash the destination
// holds either the old or the new file, not an empty one.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	defer d.Close()
	_ = d.Sync()
	return nil
}
