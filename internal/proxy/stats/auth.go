package stats

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// authenticator checks HTTP Basic credentials against bcrypt htpasswd
// entries (and, only when explicitly allowed, HAProxy's plain pair).
type authenticator struct {
	users map[string]account

	legacy      bool
	legacyUser  [32]byte // sha256 digests: equal length for constant-time compare
	legacyPass  [32]byte
	legacyAdmin bool

	// dummy is compared against for unknown users so that a wrong user
	// name costs as much as a wrong password and does not reveal which
	// names exist.
	dummy []byte

	// cache remembers, per user, a keyed digest of the last password that
	// passed bcrypt, so that a page refreshing every few seconds and a
	// metrics scraper do not pay a bcrypt verification per request
	// (etcd #6769). The key is random per process.
	cacheKey []byte
	mu       sync.Mutex
	cache    map[string][]byte
}

type account struct {
	hash  []byte
	admin bool
}

func newAuthenticator(cfg Config) (*authenticator, error) {
	a := &authenticator{users: map[string]account{}, cache: map[string][]byte{}, cacheKey: make([]byte, 32)}
	if _, err := rand.Read(a.cacheKey); err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	// Read-only users first, then admins, so that a name in both files
	// ends up an admin.
	for _, f := range []struct {
		path  string
		admin bool
	}{{cfg.Htpasswd, false}, {cfg.AdminHtpasswd, true}} {
		if f.path == "" {
			continue
		}
		entries, err := loadHtpasswd(f.path)
		if err != nil {
			return nil, err
		}
		for user, hash := range entries {
			a.users[user] = account{hash: hash, admin: f.admin}
		}
	}
	// The dummy costs what the real entries cost, so that timing tells
	// nothing about which names exist.
	cost := 0
	for _, acct := range a.users {
		c, _ := bcrypt.Cost(acct.hash)
		cost = max(cost, c)
	}
	if cost > 0 {
		dummy, err := bcrypt.GenerateFromPassword([]byte("no such user"), cost)
		if err != nil {
			return nil, fmt.Errorf("stats: %w", err)
		}
		a.dummy = dummy
	}
	if cfg.LegacyAuth != "" && cfg.InsecureLegacyAuth {
		user, pass, _ := strings.Cut(cfg.LegacyAuth, ":")
		a.legacy = true
		a.legacyUser = sha256.Sum256([]byte(user))
		a.legacyPass = sha256.Sum256([]byte(pass))
		a.legacyAdmin = cfg.LegacyAdmin
	}
	return a, nil
}

// loadHtpasswd reads "user:hash" lines; blank lines and # comments are
// skipped. Only bcrypt hashes are accepted: htpasswd's other formats
// (MD5 apr1, SHA1, crypt, plain) are too weak for 7.6.3.
func loadHtpasswd(path string) (map[string][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("stats: htpasswd: %w", err)
	}
	out := map[string][]byte{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("stats: htpasswd %s line %d: want user:hash", path, n)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("stats: htpasswd %s line %d (user %q): only bcrypt hashes are accepted (htpasswd -B): %w", path, n, user, err)
		}
		if _, dup := out[user]; dup {
			return nil, fmt.Errorf("stats: htpasswd %s line %d: user %q listed twice", path, n, user)
		}
		out[user] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("stats: htpasswd %s: %w", path, err)
	}
	return out, nil
}

// check returns the authenticated user and whether it has the admin role.
func (a *authenticator) check(r *http.Request) (user string, admin, ok bool) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return "", false, false
	}
	if a.legacy {
		u, p := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
		// Both comparisons always run: no early exit on the user name.
		if subtle.ConstantTimeCompare(u[:], a.legacyUser[:])&subtle.ConstantTimeCompare(p[:], a.legacyPass[:]) == 1 {
			return user, a.legacyAdmin, true
		}
	}
	acct, known := a.users[user]
	if !known {
		if a.dummy != nil {
			_ = bcrypt.CompareHashAndPassword(a.dummy, []byte(pass))
		}
		return "", false, false
	}
	mac := hmac.New(sha256.New, a.cacheKey)
	mac.Write([]byte(pass))
	sum := mac.Sum(nil)
	a.mu.Lock()
	cached := a.cache[user]
	a.mu.Unlock()
	if cached != nil && hmac.Equal(cached, sum) {
		return user, acct.admin, true
	}
	if bcrypt.CompareHashAndPassword(acct.hash, []byte(pass)) != nil {
		return "", false, false
	}
	a.mu.Lock()
	a.cache[user] = sum
	a.mu.Unlock()
	return user, acct.admin, true
}
