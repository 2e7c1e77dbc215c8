package prompt

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/bits"
	"os"
	"path"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/keel-go/keel/llm"
)

// Registry holds the prompts of an application: every version of each,
// which version is the default, and which is the canary and for what share
// of users. It is immutable after Load and safe for concurrent use; to
// change prompts or their rollout, load a new Registry (and swap it in
// with a Live).
type Registry struct {
	prompts map[string]*entry
	names   []string
}

// entry is one prompt in a registry.
type entry struct {
	versions []*Template // sorted by version
	def      *Template
	canary   *Template
	// canaryBP is the canary's share in basis points (1/100 of a percent).
	canaryBP uint64
	rollout  Rollout
	salt     string
}

// Rollout says which version of a prompt serves: Default to everyone,
// except the CanaryPercent share of principals, who get Canary.
type Rollout struct {
	// Default is the version served by default.
	Default string
	// Canary is the version served to the canary share, "" for none.
	Canary string
	// CanaryPercent is the canary's share of principals, from 0 to 100,
	// in steps of 0.01.
	CanaryPercent float64
}

// LoadDir loads the prompts under the directory dir; see Load.
func LoadDir(dir string, opts ...Option) (*Registry, error) {
	return Load(os.DirFS(dir), opts...)
}

// Load loads every *.prompt file of fsys (directories whose name starts
// with a dot are skipped) and the rollout file, by default "rollout.yaml"
// at the root. It reports every problem it finds, as *LoadError values
// joined with errors.Join: a file that does not parse, a name and version
// given twice, a file whose name does not match its header (it must be
// NAME@VERSION.prompt or NAME/VERSION.prompt), a rollout entry naming an
// unknown prompt or version, and a prompt with several versions but no
// default in the rollout file. A file system without prompts is an error.
func Load(fsys fs.FS, opts ...Option) (*Registry, error) {
	o := buildOptions(opts)
	var errs []error
	fail := func(file string, err error) { errs = append(errs, &LoadError{File: file, Err: err}) }

	var files []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if path.Ext(p) == ".prompt" {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, &LoadError{Err: fmt.Errorf("reading prompts: %w", err)}
	}
	if len(files) == 0 {
		return nil, &LoadError{Err: errors.New("no .prompt files found")}
	}

	r := &Registry{prompts: make(map[string]*entry)}
	byRef := make(map[string]string) // name@version -> file
	for _, file := range files {
		data, err := readLimited(fsys, file)
		if err != nil {
			fail(file, err)
			continue
		}
		t, err := parseFile(file, data, &o)
		if err != nil {
			fail(file, err)
			continue
		}
		if err := checkFileName(file, t); err != nil {
			fail(file, err)
			continue
		}
		ref := t.name + "@" + t.version
		if prev, dup := byRef[ref]; dup {
			fail(file, fmt.Errorf("%s is also defined in %s", ref, prev))
			continue
		}
		byRef[ref] = file
		e := r.prompts[t.name]
		if e == nil {
			e = &entry{salt: "keel.prompt/" + t.name}
			r.prompts[t.name] = e
			r.names = append(r.names, t.name)
		}
		e.versions = append(e.versions, t)
	}
	slices.Sort(r.names)
	for _, e := range r.prompts {
		slices.SortFunc(e.versions, func(a, b *Template) int { return compareVersions(a.version, b.version) })
	}

	rollouts, rolloutErr := readRollout(fsys, &o)
	if rolloutErr != nil {
		fail(o.rolloutFile, rolloutErr)
	}
	rolloutNames := make([]string, 0, len(rollouts))
	for name := range rollouts {
		rolloutNames = append(rolloutNames, name)
	}
	slices.Sort(rolloutNames)
	for _, name := range rolloutNames {
		if _, ok := r.prompts[name]; !ok && !failedName(errs, name) {
			fail(o.rolloutFile, fmt.Errorf("rollout for unknown prompt %q", name))
		}
	}
	for _, name := range r.names {
		e := r.prompts[name]
		ro, has := rollouts[name]
		if err := e.apply(name, ro, has); err != nil {
			fail(o.rolloutFile, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// failedName reports whether a file of the prompt name failed to load, so
// that its rollout entry is not reported as unknown too.
func failedName(errs []error, name string) bool {
	for _, err := range errs {
		var le *LoadError
		if errors.As(err, &le) {
			base := strings.TrimSuffix(path.Base(le.File), ".prompt")
			if strings.HasPrefix(base, name+"@") || path.Base(path.Dir(le.File)) == name {
				return true
			}
		}
	}
	return false
}

// apply sets the default and canary versions of a prompt.
func (e *entry) apply(name string, ro Rollout, has bool) error {
	version := func(v string) *Template {
		for _, t := range e.versions {
			if t.version == v {
				return t
			}
		}
		return nil
	}
	if ro.Default == "" {
		if len(e.versions) > 1 {
			vs := make([]string, len(e.versions))
			for i, t := range e.versions {
				vs[i] = t.version
			}
			if !has {
				return fmt.Errorf("prompt %q has versions %s and no rollout entry: name its default (%s: {default: VERSION})",
					name, strings.Join(vs, ", "), name)
			}
			return fmt.Errorf("prompt %q: rollout has no default and there are versions %s", name, strings.Join(vs, ", "))
		}
		ro.Default = e.versions[0].version
	}
	if e.def = version(ro.Default); e.def == nil {
		return fmt.Errorf("prompt %q: rollout default %q is not a loaded version", name, ro.Default)
	}
	if ro.Canary != "" {
		if e.canary = version(ro.Canary); e.canary == nil {
			return fmt.Errorf("prompt %q: rollout canary %q is not a loaded version", name, ro.Canary)
		}
		if e.canary == e.def {
			return fmt.Errorf("prompt %q: rollout canary and default are both %q", name, ro.Canary)
		}
		e.canaryBP = uint64(ro.CanaryPercent*100 + 0.5)
	}
	e.rollout = ro
	return nil
}

func readLimited(fsys fs.FS, file string) ([]byte, error) {
	f, err := fsys.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("file is larger than %d bytes", maxFileSize)
	}
	return data, nil
}

func readRollout(fsys fs.FS, o *options) (map[string]Rollout, error) {
	data, err := readLimited(fsys, o.rolloutFile)
	if errors.Is(err, fs.ErrNotExist) && !o.rolloutSet {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseRollout(data)
}

// checkFileName requires a file to be named after the name and version in
// its header, so that the file holding a version is found by its name and
// a copied file whose header was not updated is caught.
func checkFileName(file string, t *Template) error {
	stem := strings.TrimSuffix(path.Base(file), ".prompt")
	if strings.Contains(stem, "@") {
		if stem != t.name+"@"+t.version {
			return fmt.Errorf("the header says %s@%s but the file is named %s", t.name, t.version, path.Base(file))
		}
		return nil
	}
	if stem != t.version || path.Base(path.Dir(file)) != t.name {
		return fmt.Errorf("the header says %s@%s: name the file %s@%s.prompt or %s/%s.prompt",
			t.name, t.version, t.name, t.version, t.name, t.version)
	}
	return nil
}

// compareVersions orders versions naturally: runs of digits compare as
// numbers, so v9 comes before v10.
func compareVersions(a, b string) int {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na := strings.TrimLeft(a[:da], "0")
			nb := strings.TrimLeft(b[:db], "0")
			if c := len(na) - len(nb); c != 0 {
				return c
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return int(a[0]) - int(b[0])
		}
		a, b = a[1:], b[1:]
	}
	return len(a) - len(b)
}

func digitRun(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

var errNilRegistry = errors.New("prompt: nil registry")

func (r *Registry) entry(name string) (*entry, error) {
	if r == nil {
		return nil, errNilRegistry
	}
	e := r.prompts[name]
	if e == nil {
		return nil, fmt.Errorf("%w: prompt %q", ErrNotFound, name)
	}
	return e, nil
}

// Names returns the names of the prompts, sorted.
func (r *Registry) Names() []string {
	if r == nil {
		return nil
	}
	return slices.Clone(r.names)
}

// Get returns the default version of the prompt name.
func (r *Registry) Get(name string) (*Template, error) {
	e, err := r.entry(name)
	if err != nil {
		return nil, err
	}
	return e.def, nil
}

// Version returns a pinned version of the prompt name, whatever the
// rollout says: for evaluations, replays and callers that must not move.
func (r *Registry) Version(name, version string) (*Template, error) {
	e, err := r.entry(name)
	if err != nil {
		return nil, err
	}
	for _, t := range e.versions {
		if t.version == version {
			return t, nil
		}
	}
	return nil, fmt.Errorf("%w: prompt %q has no version %q", ErrNotFound, name, version)
}

// Versions returns every loaded version of the prompt name, in natural
// version order (v9 before v10).
func (r *Registry) Versions(name string) ([]*Template, error) {
	e, err := r.entry(name)
	if err != nil {
		return nil, err
	}
	return slices.Clone(e.versions), nil
}

// Rollout returns the rollout of the prompt name; a prompt without a
// rollout entry has its only version as Default.
func (r *Registry) Rollout(name string) (Rollout, error) {
	e, err := r.entry(name)
	if err != nil {
		return Rollout{}, err
	}
	ro := e.rollout
	ro.Default = e.def.version
	return ro, nil
}

// Select returns the version of the prompt name that serves p: the canary
// for the canary share of principals, the default for everyone else.
//
// The choice is a stable hash of the prompt's salt ("keel.prompt/" and the
// name), the tenant and the user, so a principal gets the same version on
// every call, in every process, for as long as the rollout stays the same,
// and raising the percentage only moves principals into the canary. A
// principal without a user is placed by tenant; one with neither always
// gets the default, so anonymous traffic never sees a canary.
func (r *Registry) Select(name string, p llm.Principal) (*Template, error) {
	e, err := r.entry(name)
	if err != nil {
		return nil, err
	}
	if e.canary == nil || e.canaryBP == 0 || p.IsZero() {
		return e.def, nil
	}
	// Scale the 64-bit hash to [0, 10000): the high word of hash*10000.
	bucket, _ := bits.Mul64(promptHash(e.salt, &p), 10000)
	if bucket < e.canaryBP {
		return e.canary, nil
	}
	return e.def, nil
}

// Render selects the version of the prompt name for p (see Select),
// renders it with vars, and sets the request's Principal to p.
func (r *Registry) Render(name string, p llm.Principal, vars Vars) (*llm.Request, error) {
	t, err := r.Select(name, p)
	if err != nil {
		return nil, err
	}
	req, err := t.Render(vars)
	if err != nil {
		return nil, err
	}
	req.Principal = p
	return req, nil
}

// FNV-1a 64-bit parameters.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// promptHash is FNV-1a 64 of salt, 0, tenant[, 0, user] finished with
// murmur3's fmix64, the construction llm.Router uses for model canaries.
// The salt starts with "keel.prompt/", which no default route salt (a
// rule name, which has no slash) can equal, so prompt and model canaries
// split the same users independently. Changing this function reassigns
// every user of every prompt canary.
func promptHash(salt string, p *llm.Principal) uint64 {
	h := uint64(fnvOffset)
	h = fnvString(h, salt)
	h *= fnvPrime // a zero separator byte
	h = fnvString(h, p.Tenant)
	if p.User != "" {
		h *= fnvPrime
		h = fnvString(h, p.User)
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// Live holds the registry an application serves from, so that a new one
// (loaded after a deploy of prompt files, or on a signal) replaces it
// atomically while requests are rendered. It is safe for concurrent use.
type Live struct {
	cur atomic.Pointer[Registry]
}

// NewLive returns a Live serving r.
func NewLive(r *Registry) *Live {
	l := &Live{}
	l.cur.Store(r)
	return l
}

// Registry returns the registry being served. Use the same one for the
// whole of a request, so its prompt and rollout do not change midway.
func (l *Live) Registry() *Registry { return l.cur.Load() }

// Store makes r the registry being served and returns the previous one.
// Load the new registry first and store it only when Load succeeded, so a
// broken prompt file never replaces a working set.
func (l *Live) Store(r *Registry) *Registry { return l.cur.Swap(r) }
