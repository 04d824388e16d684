package buildpack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dynokit/dynokit/internal/copytree"
)

// Defaults of Builder's zero value.
const (
	DefaultStack          = "heroku-24"
	DefaultTimeout        = 15 * time.Minute
	DefaultMaxOutputBytes = 16 << 20
)

// Builder runs classic buildpacks against an app directory. Its zero value
// is usable: stack heroku-24, 15-minute timeout, 16 MiB of build output,
// local processes, no persistent cache. Safe for concurrent use by several
// builds (of different app directories).
type Builder struct {
	// Stack is the STACK value scripts see.
	Stack string
	// Timeout bounds a whole build, detect to release.
	Timeout time.Duration
	// MaxOutputBytes bounds the script output passed to BuildInput.Output.
	// Past it a notice is written, further script output is dropped and
	// the build goes on; the platform's own lines are still written.
	MaxOutputBytes int64
	// Env is the base environment of every script (KEY=VALUE). Nil means
	// PATH from this process, plus HOME set to a scratch directory that
	// is deleted after the build. STACK (and SOURCE_VERSION when given)
	// are always added. Config vars are not in it: they are in ENV_DIR.
	Env []string
	// Runner runs the scripts; nil means a LocalRunner. A platform can
	// supply one that runs compile inside a container.
	Runner CommandRunner
	// Cache persists CACHE_DIR between builds of one app; nil means every
	// build starts with an empty CACHE_DIR.
	Cache *Cache
	// TempDir holds per-build scratch directories (ENV_DIR, HOME, private
	// copies of the buildpacks); empty means os.TempDir().
	TempDir string
	// Logger receives diagnostics that are not part of the build output;
	// nil discards them.
	Logger *slog.Logger
}

// BuildInput is one build.
type BuildInput struct {
	// App names the app; it selects the build cache. Required when
	// Builder.Cache is set.
	App string
	// AppDir is BUILD_DIR: the app's source, compiled in place. After a
	// successful build it is the tree to pack into a slug.
	AppDir string
	// Buildpacks is an explicit ordered list: each must detect, each
	// compiles in turn, and each sources the export files of the ones
	// before it (heroku.md §2.4).
	Buildpacks []Buildpack
	// Detect is the ordered list of candidates used when Buildpacks is
	// empty: the first whose bin/detect passes is the only one to run.
	Detect []Buildpack
	// ConfigVars are written to ENV_DIR, one file per var, values as is.
	ConfigVars map[string]string
	// SourceVersion, when set, is exported as SOURCE_VERSION (the commit).
	SourceVersion string
	// Output receives the build log line by line as it is produced; nil
	// discards it.
	Output io.Writer
}

// Ran is a buildpack that took part in a build.
type Ran struct {
	Buildpack Buildpack
	// Detected is the framework name its bin/detect printed.
	Detected string
}

// Result is a successful build.
type Result struct {
	// AppDir is the built tree (BuildInput.AppDir), ready for packing.
	AppDir string
	// ProcessTypes is the app's process types: the last buildpack's
	// default_process_types, overridden by the Procfile's entries.
	ProcessTypes map[string]string
	// ProcfileTypes lists the Procfile's types in file order (nil when
	// the app has no Procfile).
	ProcfileTypes []string
	// DefaultProcessTypes, Addons and ConfigVars are the last buildpack's
	// bin/release output.
	DefaultProcessTypes map[string]string
	Addons              []string
	ConfigVars          map[string]string
	// Buildpacks are the buildpacks that compiled, in order.
	Buildpacks []Ran
	// CacheBytes is the size of the app's saved build cache (0 without a
	// Cache).
	CacheBytes int64
	// OutputDropped counts script output bytes not shown because of
	// MaxOutputBytes.
	OutputDropped int64
	// Duration is the whole build; ScriptTime the part spent running
	// scripts (Duration minus ScriptTime is the platform's overhead).
	Duration, ScriptTime time.Duration
}

// build is the state of one Build call.
type build struct {
	b       *Builder
	in      BuildInput
	out     *output
	runner  CommandRunner
	env     []string
	envDir  string
	scratch string
	cache   string
	scripts time.Duration
	timeout time.Duration
	log     *slog.Logger
}

// Build runs the buildpacks against in.AppDir. Script failures are *Error;
// no buildpack detecting is ErrNoMatch (wrapped). On failure the app's
// cache is left as it was before the build.
func (b *Builder) Build(ctx context.Context, in BuildInput) (*Result, error) {
	start := time.Now()
	if err := b.validate(in); err != nil {
		return nil, err
	}
	timeout := b.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	limit := b.MaxOutputBytes
	if limit <= 0 {
		limit = DefaultMaxOutputBytes
	}
	st := &build{b: b, in: in, out: newOutput(in.Output, limit), runner: b.Runner, timeout: timeout, log: b.Logger}
	if st.runner == nil {
		st.runner = &LocalRunner{}
	}
	if st.log == nil {
		st.log = slog.New(slog.DiscardHandler)
	}
	defer st.out.flush()

	if err := st.prepare(ctx); err != nil {
		st.cleanup()
		return nil, err
	}
	res, err := st.run(ctx)
	st.out.flush()
	if st.out.err != nil {
		// The build goes on without its audience (a git client that hung
		// up); the result is still useful.
		st.log.Warn("buildpack: writing build output failed; output after it was dropped", "app", in.App, "err", st.out.err)
	}
	if err != nil {
		if st.cache != "" {
			b.Cache.discard(st.cache)
		}
		st.cleanup()
		return nil, err
	}
	if b.Cache != nil {
		if err := b.Cache.commit(ctx, in.App, st.cache); err != nil {
			st.cleanup()
			return nil, err
		}
		if res.CacheBytes, err = b.Cache.Size(in.App); err != nil {
			st.log.Warn("build cache size", "app", in.App, "err", err)
		}
	}
	st.cleanup()
	res.OutputDropped = st.out.droppedBytes()
	res.Duration = time.Since(start)
	res.ScriptTime = st.scripts
	return res, nil
}

func (b *Builder) validate(in BuildInput) error {
	if in.AppDir == "" {
		return errors.New("buildpack: BuildInput.AppDir is empty")
	}
	fi, err := os.Stat(in.AppDir)
	if err != nil {
		return fmt.Errorf("buildpack: app dir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("buildpack: app dir %s is not a directory", in.AppDir)
	}
	if len(in.Buildpacks) == 0 && len(in.Detect) == 0 {
		return errors.New("buildpack: no buildpacks: set BuildInput.Buildpacks or BuildInput.Detect")
	}
	for _, bp := range slices.Concat(in.Buildpacks, in.Detect) {
		if bp.Dir == "" {
			return fmt.Errorf("buildpack: buildpack %q has an empty Dir", bp.Name)
		}
	}
	if b.Cache != nil {
		if _, err := b.Cache.appDir(in.App); err != nil {
			return err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(in.ConfigVars)) {
		if msg := configVarRule(k); msg != "" {
			return fmt.Errorf("buildpack: config var %q: %s", k, msg)
		}
	}
	return nil
}

// prepare makes the scratch dir, ENV_DIR, CACHE_DIR and the environment.
func (st *build) prepare(ctx context.Context) error {
	scratch, err := os.MkdirTemp(st.b.TempDir, "dynokit-build-")
	if err != nil {
		return fmt.Errorf("buildpack: scratch dir: %w", err)
	}
	st.scratch = scratch
	st.envDir = filepath.Join(scratch, "env")
	if err := os.Mkdir(st.envDir, 0o700); err != nil {
		return fmt.Errorf("buildpack: env dir: %w", err)
	}
	for k, v := range st.in.ConfigVars {
		if err := os.WriteFile(filepath.Join(st.envDir, k), []byte(v), 0o600); err != nil {
			return fmt.Errorf("buildpack: env dir: %w", err)
		}
	}
	if st.b.Cache != nil {
		if st.cache, err = st.b.Cache.checkout(ctx, st.in.App); err != nil {
			return err
		}
	} else {
		st.cache = filepath.Join(scratch, "cache")
		if err := os.Mkdir(st.cache, 0o700); err != nil {
			return fmt.Errorf("buildpack: cache dir: %w", err)
		}
	}
	env := st.b.Env
	if env == nil {
		home := filepath.Join(scratch, "home")
		if err := os.Mkdir(home, 0o700); err != nil {
			return fmt.Errorf("buildpack: home dir: %w", err)
		}
		path := os.Getenv("PATH")
		if path == "" {
			path = "/usr/local/bin:/usr/bin:/bin"
		}
		env = []string{"PATH=" + path, "HOME=" + home}
	}
	stack := st.b.Stack
	if stack == "" {
		stack = DefaultStack
	}
	st.env = append(slices.Clip(env), "STACK="+stack)
	if st.in.SourceVersion != "" {
		st.env = append(st.env, "SOURCE_VERSION="+st.in.SourceVersion)
	}
	return nil
}

func (st *build) cleanup() {
	if st.scratch != "" {
		os.RemoveAll(st.scratch)
	}
}

func (st *build) run(ctx context.Context) (*Result, error) {
	stack := st.b.Stack
	if stack == "" {
		stack = DefaultStack
	}
	st.out.step("Building on the %s stack", stack)

	var ran []Ran
	var exports []string
	var last Buildpack
	var lastDir string
	if len(st.in.Buildpacks) > 0 {
		if len(st.in.Buildpacks) > 1 {
			st.out.step("Using buildpacks:")
			for i, bp := range st.in.Buildpacks {
				st.out.detail("%d. %s", i+1, bp.label())
			}
		}
		for i, bp := range st.in.Buildpacks {
			private, err := st.privateCopy(ctx, bp, i)
			if err != nil {
				return nil, err
			}
			name, ok, err := st.detect(ctx, bp, private, exports)
			if err != nil {
				return nil, err
			}
			if !ok {
				st.out.warn("App not compatible with buildpack: %s", bp.label())
				return nil, &Error{Buildpack: bp.label(), Phase: PhaseDetect, ExitCode: -1,
					Err: fmt.Errorf("bin/detect did not detect the app in %s: %w", st.in.AppDir, ErrNoMatch)}
			}
			if err := st.compile(ctx, bp, private, name, exports); err != nil {
				return nil, err
			}
			ran = append(ran, Ran{Buildpack: bp, Detected: name})
			if _, err := os.Stat(filepath.Join(private, "export")); err == nil {
				exports = append(exports, filepath.Join(private, "export"))
			}
			last, lastDir = bp, private
		}
	} else {
		var tried []string
		for i, bp := range st.in.Detect {
			private, err := st.privateCopy(ctx, bp, i)
			if err != nil {
				return nil, err
			}
			name, ok, err := st.detect(ctx, bp, private, nil)
			if err != nil {
				return nil, err
			}
			if !ok {
				tried = append(tried, bp.label())
				continue
			}
			if err := st.compile(ctx, bp, private, name, nil); err != nil {
				return nil, err
			}
			ran = append(ran, Ran{Buildpack: bp, Detected: name})
			if _, err := os.Stat(filepath.Join(private, "export")); err == nil {
				exports = append(exports, filepath.Join(private, "export"))
			}
			last, lastDir = bp, private
			break
		}
		if len(ran) == 0 {
			st.out.warn("No default language could be detected for this app.")
			st.out.detail("Tried: %s", strings.Join(tried, ", "))
			return nil, fmt.Errorf("%w (tried %s)", ErrNoMatch, strings.Join(tried, ", "))
		}
	}

	rel, err := st.release(ctx, last, lastDir, exports)
	if err != nil {
		return nil, err
	}
	res := &Result{
		AppDir:              st.in.AppDir,
		DefaultProcessTypes: rel.DefaultProcessTypes,
		Addons:              rel.Addons,
		ConfigVars:          rel.ConfigVars,
		Buildpacks:          ran,
	}
	if err := st.discoverProcessTypes(res); err != nil {
		return nil, err
	}
	return res, nil
}

// privateCopy copies a buildpack into the build's scratch dir, so an
// export file (or anything else) one build writes into it is never seen
// by another build.
func (st *build) privateCopy(ctx context.Context, bp Buildpack, i int) (string, error) {
	dst := filepath.Join(st.scratch, fmt.Sprintf("buildpack-%d", i))
	if err := os.Mkdir(dst, 0o700); err != nil {
		return "", fmt.Errorf("buildpack: copy %s: %w", bp.label(), err)
	}
	if err := copytree.Copy(ctx, bp.Dir, dst); err != nil {
		return "", &Error{Buildpack: bp.label(), Phase: PhaseFetch, ExitCode: -1, Err: fmt.Errorf("copy %s: %w", bp.Dir, err)}
	}
	return dst, nil
}

// script returns the path of bin/<name> in dir, or "" when missing (only
// allowed for release), or an error when it exists but is not executable.
func script(bp Buildpack, dir, name, phase string) (string, error) {
	p := filepath.Join(dir, "bin", name)
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", &Error{Buildpack: bp.label(), Phase: phase, ExitCode: -1, Err: err}
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return "", &Error{Buildpack: bp.label(), Phase: phase, ExitCode: -1, Err: fmt.Errorf("bin/%s is not an executable file", name)}
	}
	return p, nil
}

// runScript runs c and turns a cancelled or timed-out context into an
// *Error for phase.
func (st *build) runScript(ctx context.Context, bp Buildpack, c Command) (int, error) {
	c.Env = st.env
	c.Dir = st.in.AppDir
	t0 := time.Now()
	code, err := st.runner.Run(ctx, c)
	st.scripts += time.Since(t0)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			st.out.warn("Build timed out after %s during %s of %s.", st.timeout, c.Phase, bp.label())
			err = fmt.Errorf("build timed out after %s: %w", st.timeout, err)
		}
		return code, &Error{Buildpack: bp.label(), Phase: c.Phase, ExitCode: -1, Err: err}
	}
	return code, nil
}

// detect runs bin/detect, after earlier buildpacks' export files; ok
// reports whether it passed.
func (st *build) detect(ctx context.Context, bp Buildpack, dir string, exports []string) (name string, ok bool, err error) {
	path, err := script(bp, dir, "detect", PhaseDetect)
	if err != nil {
		return "", false, err
	}
	if path == "" {
		return "", false, &Error{Buildpack: bp.label(), Phase: PhaseDetect, ExitCode: -1, Err: errors.New("bin/detect is missing")}
	}
	var stdout, stderr boundedBuffer
	stdout.max, stderr.max = MaxDetectBytes, 1<<10
	code, err := st.runScript(ctx, bp, withExports(Command{Phase: PhaseDetect, Path: path, Args: []string{st.in.AppDir}, Stdout: &stdout, Stderr: &stderr}, exports))
	if err != nil {
		return "", false, err
	}
	st.log.Debug("detect", "buildpack", bp.label(), "exit_code", code, "stderr", stderr.String())
	if code != 0 {
		return "", false, nil
	}
	name = ParseDetectOutput(stdout.Bytes())
	if name == "" {
		name = bp.label()
	}
	return name, true, nil
}

// chainScript runs a buildpack script after sourcing earlier buildpacks'
// export files, as Heroku chains buildpacks: $0 is the script, $1 the
// number of its arguments, then the arguments, then the export files.
// While they are sourced, the positional parameters are the script's
// arguments (a compile's are BUILD_DIR CACHE_DIR ENV_DIR). Its variables
// have unlikely names because export files run in the same shell. Export
// files' exit status is ignored, as Heroku does.
const chainScript = `__dynokit_cmd=("$0" "${@:2:$1}")
shift $(($1 + 1))
__dynokit_exports=("$@")
set -- "${__dynokit_cmd[@]:1}"
for __dynokit_export in "${__dynokit_exports[@]}"; do . "$__dynokit_export"; done
exec "${__dynokit_cmd[@]}"`

// withExports makes c run after sourcing the export files, if any.
func withExports(c Command, exports []string) Command {
	if len(exports) == 0 {
		return c
	}
	args := append([]string{"-c", chainScript, c.Path, strconv.Itoa(len(c.Args))}, c.Args...)
	c.Path, c.Args = "bash", append(args, exports...)
	return c
}

func (st *build) compile(ctx context.Context, bp Buildpack, dir, name string, exports []string) error {
	path, err := script(bp, dir, "compile", PhaseCompile)
	if err != nil {
		return err
	}
	if path == "" {
		return &Error{Buildpack: bp.label(), Phase: PhaseCompile, ExitCode: -1, Err: errors.New("bin/compile is missing")}
	}
	st.out.step("%s app detected", name)
	c := Command{Phase: PhaseCompile, Path: path, Args: []string{st.in.AppDir, st.cache, st.envDir}, Stdout: st.out, Stderr: st.out}
	code, err := st.runScript(ctx, bp, withExports(c, exports))
	st.out.flush()
	if err != nil {
		st.out.warn("Push rejected, failed to compile %s app.", name)
		return err
	}
	if code != 0 {
		st.out.warn("Push rejected, failed to compile %s app.", name)
		return &Error{Buildpack: bp.label(), Phase: PhaseCompile, ExitCode: code}
	}
	return nil
}

// release runs the last buildpack's bin/release, if it has an executable
// one, after every buildpack's export file (its own too).
func (st *build) release(ctx context.Context, bp Buildpack, dir string, exports []string) (Release, error) {
	if fi, err := os.Stat(filepath.Join(dir, "bin", "release")); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 == 0 {
		// Heroku runs bin/release only "if executable".
		st.out.warn("bin/release of %s is not executable: it gives no default process types.", bp.label())
		return Release{}, nil
	}
	path, err := script(bp, dir, "release", PhaseRelease)
	if err != nil || path == "" {
		return Release{}, err
	}
	var stdout boundedBuffer
	stdout.max = MaxReleaseBytes + 1
	code, err := st.runScript(ctx, bp, withExports(Command{Phase: PhaseRelease, Path: path, Args: []string{st.in.AppDir}, Stdout: &stdout, Stderr: st.out}, exports))
	if err != nil {
		return Release{}, err
	}
	if code != 0 {
		return Release{}, &Error{Buildpack: bp.label(), Phase: PhaseRelease, ExitCode: code}
	}
	rel, err := ParseRelease(stdout.Bytes())
	if err != nil {
		return Release{}, &Error{Buildpack: bp.label(), Phase: PhaseRelease, ExitCode: 0, Err: err}
	}
	return rel, nil
}

// discoverProcessTypes merges the Procfile over the defaults and prints
// Heroku's summary lines.
func (st *build) discoverProcessTypes(res *Result) error {
	types, found, err := readProcfile(st.in.AppDir)
	if err != nil {
		return err
	}
	res.ProcessTypes = map[string]string{}
	maps.Copy(res.ProcessTypes, res.DefaultProcessTypes)
	declared := "(none)"
	if found {
		res.ProcfileTypes = []string{}
		for _, t := range types {
			res.ProcessTypes[t.Name] = t.Command
			res.ProcfileTypes = append(res.ProcfileTypes, t.Name)
		}
		if len(types) > 0 {
			declared = strings.Join(res.ProcfileTypes, ", ")
		}
	}
	var defaults []string
	for _, name := range slices.Sorted(maps.Keys(res.DefaultProcessTypes)) {
		if !slices.Contains(res.ProcfileTypes, name) {
			defaults = append(defaults, name)
		}
	}
	st.out.step("Discovering process types")
	st.out.detail("Procfile declares types     -> %s", declared)
	if len(defaults) > 0 {
		st.out.detail("Default types for buildpack -> %s", strings.Join(defaults, ", "))
	}
	return nil
}

// boundedBuffer keeps the first max bytes written and counts the rest; it
// never fails, so a chatty script is not killed by SIGPIPE.
type boundedBuffer struct {
	bytes.Buffer
	max  int
	over int64
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	room := b.max - b.Len()
	if room < len(p) {
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		b.over += int64(len(p) - max(room, 0))
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
