package confd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Resource is one template resource: a file under conf.d with a
// [template] table.
type Resource struct {
	// File is the resource file it was read from.
	File string
	// Src is the template, already joined to <confdir>/templates.
	Src  string
	Dest string
	// Keys are the keys as written; Prefix is the effective prefix.
	Keys   []string
	Prefix string
	// Mode is the wanted mode; ModeSet says whether the file gave one
	// (otherwise the destination keeps its own, or 0644 when new).
	Mode    fs.FileMode
	ModeSet bool
	UID     int
	GID     int
	// CheckCmd and ReloadCmd are the commands as written; {{.src}} and
	// {{.dest}} are expanded when they run.
	CheckCmd  string
	ReloadCmd string
}

// PrefixedKeys are the keys joined to the effective prefix, as the backend
// is asked for them.
func (r *Resource) PrefixedKeys() []string {
	ks := make([]string, len(r.Keys))
	for i, k := range r.Keys {
		ks[i] = path.Join(r.Prefix, k)
	}
	return ks
}

// resourceFile is the TOML shape. BurntSushi/toml matches keys to fields
// case-insensitively, as confd's decoder did, so "SRC" and "Check_Cmd"
// keep working.
type resourceFile struct {
	Template *struct {
		Src       string   `toml:"src"`
		Dest      string   `toml:"dest"`
		Keys      []string `toml:"keys"`
		Prefix    string   `toml:"prefix"`
		Mode      string   `toml:"mode"`
		UID       *int     `toml:"uid"`
		GID       *int     `toml:"gid"`
		Owner     string   `toml:"owner"`
		Group     string   `toml:"group"`
		CheckCmd  string   `toml:"check_cmd"`
		ReloadCmd string   `toml:"reload_cmd"`
	} `toml:"template"`
}

// LoadError is a resource file that could not be used. Each file is judged
// on its own: one bad file does not stop the others (confd 0.16 gave up on
// all of them).
type LoadError struct {
	File string
	Err  error
}

func (e *LoadError) Error() string {
	return fmt.Sprintf("Cannot process template resource %s - %v", e.File, e.Err)
}
func (e *LoadError) Unwrap() error { return e.Err }

// ErrNoConfDir is returned by FindResources when the confdir is missing;
// confd warns and does nothing in that case.
var ErrNoConfDir = errors.New("confdir does not exist")

// FindResources lists the resource files under <confdir>/conf.d in lexical
// order of the walk: every file whose name ends in "toml", in any folder.
func FindResources(confDir string) ([]string, error) {
	if _, err := os.Stat(confDir); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("Cannot load template resources: confdir '%s' does not exist: %w", confDir, ErrNoConfDir)
	}
	dir := filepath.Join(confDir, "conf.d")
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), "toml") {
			files = append(files, p)
		}
		return nil
	})
	return files, err
}

// LoadOptions are the settings that shape every resource.
type LoadOptions struct {
	ConfDir string
	// Prefix is the global prefix; when set it replaces each resource's
	// own prefix, as in confd 0.12 and later.
	Prefix string
	// UID and GID are the owner a resource gets when it names none.
	UID, GID int
	// Warn receives non-fatal remarks (unknown keys).
	Warn func(file, msg string)
}

// LoadResource reads one resource file.
func LoadResource(file string, o LoadOptions) (*Resource, error) {
	var rf resourceFile
	md, err := toml.DecodeFile(file, &rf)
	if err != nil {
		return nil, &LoadError{File: file, Err: err}
	}
	if o.Warn != nil {
		for _, k := range md.Undecoded() {
			o.Warn(file, fmt.Sprintf("unknown key %q is ignored", k.String()))
		}
	}
	t := rf.Template
	if t == nil {
		return nil, &LoadError{File: file, Err: errors.New("no [template] table")}
	}
	if t.Src == "" {
		return nil, &LoadError{File: file, Err: errors.New("empty src template")}
	}
	if t.Dest == "" {
		return nil, &LoadError{File: file, Err: errors.New("empty dest")}
	}
	r := &Resource{
		File:      file,
		Src:       filepath.Join(o.ConfDir, "templates", t.Src),
		Dest:      t.Dest,
		Keys:      t.Keys,
		CheckCmd:  t.CheckCmd,
		ReloadCmd: t.ReloadCmd,
		UID:       o.UID,
		GID:       o.GID,
	}
	r.Prefix = t.Prefix
	if o.Prefix != "" {
		r.Prefix = o.Prefix
	}
	if !strings.HasPrefix(r.Prefix, "/") {
		r.Prefix = "/" + r.Prefix
	}
	if t.Mode != "" {
		m, err := ParseMode(t.Mode)
		if err != nil {
			return nil, &LoadError{File: file, Err: err}
		}
		r.Mode, r.ModeSet = m, true
	}
	if err := r.setOwner(t.Owner, t.Group, t.UID, t.GID); err != nil {
		return nil, &LoadError{File: file, Err: err}
	}
	return r, nil
}

// setOwner resolves owner and group names (which confd silently ignored)
// and numeric ids. A name and a different number for the same thing is a
// contradiction, reported rather than guessed.
func (r *Resource) setOwner(owner, group string, uid, gid *int) error {
	ownerGID := -1
	if owner != "" {
		u, err := lookupUser(owner)
		if err != nil {
			return err
		}
		id, _ := strconv.Atoi(u.Uid)
		if uid != nil && *uid != id {
			return fmt.Errorf("owner %q is uid %d but uid = %d", owner, id, *uid)
		}
		r.UID = id
		ownerGID, _ = strconv.Atoi(u.Gid)
	} else if uid != nil {
		r.UID = *uid
	}
	switch {
	case group != "":
		g, err := lookupGroup(group)
		if err != nil {
			return err
		}
		id, _ := strconv.Atoi(g.Gid)
		if gid != nil && *gid != id {
			return fmt.Errorf("group %q is gid %d but gid = %d", group, id, *gid)
		}
		r.GID = id
	case gid != nil:
		r.GID = *gid
	case ownerGID >= 0:
		// The owner's primary group, as chown user: does.
		r.GID = ownerGID
	}
	return nil
}

func lookupUser(name string) (*user.User, error) {
	if u, err := user.Lookup(name); err == nil {
		return u, nil
	}
	if u, err := user.LookupId(name); err == nil {
		return u, nil
	}
	return nil, fmt.Errorf("owner: unknown user %q", name)
}

func lookupGroup(name string) (*user.Group, error) {
	if g, err := user.LookupGroup(name); err == nil {
		return g, nil
	}
	if g, err := user.LookupGroupId(name); err == nil {
		return g, nil
	}
	return nil, fmt.Errorf("group: unknown group %q", name)
}

// ParseMode reads a resource's mode. "0644" and "0x1a4" are read as Go
// reads integer literals, as confd does. A bare string of octal digits such
// as "644" is read as octal: confd read it as decimal 644 (mode --w----r--),
// which nobody means and which locks the owner out of reading the file.
func ParseMode(s string) (fs.FileMode, error) {
	base := 0
	if len(s) > 1 && s[0] != '0' && strings.Trim(s, "01234567") == "" {
		base = 8
	}
	v, err := strconv.ParseUint(s, base, 32)
	if err != nil || v > 0o7777 {
		return 0, fmt.Errorf("invalid mode %q: want permission bits such as \"0644\"", s)
	}
	m := fs.FileMode(v & 0o777)
	if v&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if v&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if v&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m, nil
}

// LoadResources reads every resource under the confdir. Files that fail
// are returned as LoadErrors beside the good ones.
func LoadResources(o LoadOptions) ([]*Resource, []error, error) {
	files, err := FindResources(o.ConfDir)
	if err != nil {
		return nil, nil, err
	}
	sort.Strings(files)
	var rs []*Resource
	var errs []error
	for _, f := range files {
		r, err := LoadResource(f, o)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rs = append(rs, r)
	}
	return rs, errs, nil
}
