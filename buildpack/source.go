package buildpack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"
	"golang.org/x/sys/unix"
)

// Source says where a buildpack comes from.
type Source struct {
	// URL is one of:
	//   - a local directory path (absolute, or relative to the working dir);
	//   - an http(s) URL whose path ends in .tgz or .tar.gz: a tarball with
	//     bin/ at its root (or in its single top-level directory);
	//   - a git URL (https://, http://, git://, ssh://, file://, git+<scheme>://,
	//     or user@host:path), optionally with "#ref": a branch, a tag or a
	//     commit. No ref means the remote's default branch.
	URL string
	// SHA256 is the hex sha256 of a tarball; when set the download is
	// verified before it is unpacked. Only for tarballs.
	SHA256 string
}

// SourceKind is how a Source is fetched.
type SourceKind int

const (
	SourceDir SourceKind = iota + 1
	SourceTarball
	SourceGit
)

func (k SourceKind) String() string {
	switch k {
	case SourceDir:
		return "directory"
	case SourceTarball:
		return "tarball"
	case SourceGit:
		return "git"
	}
	return "unknown"
}

// parsedSource is a classified Source.
type parsedSource struct {
	kind SourceKind
	loc  string // dir path, tarball URL, or git URL without the ref
	ref  string // git only
	sum  string // tarball only, lower-case hex
}

var scpLike = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/]`)

// Kind classifies s without fetching it.
func (s Source) Kind() (SourceKind, error) {
	p, err := parseSource(s)
	return p.kind, err
}

func parseSource(s Source) (parsedSource, error) {
	raw := strings.TrimSpace(s.URL)
	bad := func(rule string) (parsedSource, error) {
		return parsedSource{}, fmt.Errorf("buildpack: source %q: %s", s.URL, rule)
	}
	if raw == "" {
		return bad("is empty")
	}
	if strings.HasPrefix(raw, "-") {
		return bad("must not start with '-'")
	}
	if strings.ContainsAny(raw, "\x00\n\r") {
		return bad("contains a NUL or newline")
	}
	var sum string
	if s.SHA256 != "" {
		sum = strings.ToLower(s.SHA256)
		if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size {
			return bad("SHA256 must be 64 hex digits")
		}
	}
	if scpLike.MatchString(raw) && !strings.Contains(raw, "://") {
		loc, ref, _ := strings.Cut(raw, "#")
		return gitSource(s, loc, ref, sum)
	}
	if !strings.Contains(raw, "://") {
		if sum != "" {
			return bad("SHA256 is only for tarball URLs")
		}
		abs, err := filepath.Abs(raw)
		if err != nil {
			return bad(err.Error())
		}
		return parsedSource{kind: SourceDir, loc: abs}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("not a URL: " + err.Error())
	}
	switch u.Scheme {
	case "http", "https":
		if strings.HasSuffix(u.Path, ".tgz") || strings.HasSuffix(u.Path, ".tar.gz") {
			if u.Fragment != "" {
				return bad("a tarball URL takes no #ref")
			}
			return parsedSource{kind: SourceTarball, loc: raw, sum: sum}, nil
		}
		loc, ref, _ := strings.Cut(raw, "#")
		return gitSource(s, loc, ref, sum)
	case "git", "ssh", "file":
		loc, ref, _ := strings.Cut(raw, "#")
		return gitSource(s, loc, ref, sum)
	case "git+http", "git+https", "git+ssh", "git+file":
		loc, ref, _ := strings.Cut(strings.TrimPrefix(raw, "git+"), "#")
		return gitSource(s, loc, ref, sum)
	}
	return bad("unsupported scheme " + u.Scheme + " (want a directory, http(s) .tgz, or a git URL)")
}

var gitRefRule = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]*$`)

func gitSource(s Source, loc, ref, sum string) (parsedSource, error) {
	if sum != "" {
		return parsedSource{}, fmt.Errorf("buildpack: source %q: SHA256 is only for tarball URLs", s.URL)
	}
	if ref != "" && (!gitRefRule.MatchString(ref) || strings.Contains(ref, "..") || strings.HasSuffix(ref, ".lock")) {
		return parsedSource{}, fmt.Errorf("buildpack: source %q: ref %q must be a branch, tag or commit name", s.URL, ref)
	}
	return parsedSource{kind: SourceGit, loc: loc, ref: ref}, nil
}

// Fetcher turns Sources into local Buildpacks and caches them on disk:
// tarballs by URL and checksum (never downloaded twice), git checkouts by
// commit. A git branch (or no ref) is re-resolved with git ls-remote on
// every Fetch and re-fetched only when it moved; a tag or commit that was
// fetched once needs no network again. Concurrent Fetches of the same
// source share one download. Safe for concurrent use, also by several
// processes sharing Dir.
type Fetcher struct {
	// Dir holds the cache; empty means <user cache dir>/dynokit/buildpacks.
	Dir string
	// HTTPClient downloads tarballs; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Git is the git binary; empty means "git" from PATH.
	Git string
	// MaxArchiveBytes bounds a tarball, compressed and unpacked; default 512 MiB.
	MaxArchiveBytes int64
	// Logger receives diagnostics (for example a stale branch used while
	// the remote is unreachable); nil discards them.
	Logger *slog.Logger

	group singleflight.Group
}

// Fetch returns a local copy of src's buildpack. A directory source is
// returned as is. Errors are *Error with Phase "fetch", or a plain error
// for a malformed Source.
func (f *Fetcher) Fetch(ctx context.Context, src Source) (Buildpack, error) {
	p, err := parseSource(src)
	if err != nil {
		return Buildpack{}, err
	}
	if p.kind == SourceDir {
		fi, err := os.Stat(p.loc)
		if err != nil {
			return Buildpack{}, &Error{Buildpack: src.URL, Phase: PhaseFetch, ExitCode: -1, Err: err}
		}
		if !fi.IsDir() {
			return Buildpack{}, &Error{Buildpack: src.URL, Phase: PhaseFetch, ExitCode: -1, Err: fmt.Errorf("%s is not a directory", p.loc)}
		}
		return Buildpack{Name: src.URL, Dir: p.loc}, nil
	}
	root, err := f.root()
	if err != nil {
		return Buildpack{}, err
	}
	key := p.loc + "\x00" + p.ref + "\x00" + p.sum
	ch := f.group.DoChan(key, func() (any, error) {
		// Detached from the first caller's ctx so its cancellation does
		// not fail the others waiting on the same fetch; bounded instead.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		defer cancel()
		if p.kind == SourceTarball {
			return f.fetchTarball(fctx, root, p)
		}
		return f.fetchGit(fctx, root, p)
	})
	select {
	case <-ctx.Done():
		return Buildpack{}, &Error{Buildpack: src.URL, Phase: PhaseFetch, ExitCode: -1, Err: ctx.Err()}
	case r := <-ch:
		if r.Err != nil {
			return Buildpack{}, &Error{Buildpack: src.URL, Phase: PhaseFetch, ExitCode: -1, Err: r.Err}
		}
		return Buildpack{Name: src.URL, Dir: r.Val.(string)}, nil
	}
}

// fetchTimeout bounds one shared download or git fetch.
const fetchTimeout = 10 * time.Minute

func (f *Fetcher) root() (string, error) {
	dir := f.Dir
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("buildpack: fetcher: no Dir and no user cache dir: %w", err)
		}
		dir = filepath.Join(base, "dynokit", "buildpacks")
	}
	for _, sub := range []string{"tgz", "git", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return "", fmt.Errorf("buildpack: fetcher: %w", err)
		}
	}
	return dir, nil
}

func (f *Fetcher) logger() *slog.Logger {
	if f.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return f.Logger
}

func (f *Fetcher) maxBytes() int64 {
	if f.MaxArchiveBytes > 0 {
		return f.MaxArchiveBytes
	}
	return defaultExtractLimits.MaxBytes
}

func hashKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

func (f *Fetcher) fetchTarball(ctx context.Context, root string, p parsedSource) (string, error) {
	final := filepath.Join(root, "tgz", hashKey(p.loc, p.sum))
	if fi, err := os.Stat(final); err == nil && fi.IsDir() {
		return final, nil
	}
	tmp, err := os.MkdirTemp(filepath.Join(root, "tmp"), "tgz-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	archive := filepath.Join(tmp, "archive")
	if err := f.download(ctx, p, archive); err != nil {
		return "", err
	}
	unpacked := filepath.Join(tmp, "unpacked")
	if err := os.Mkdir(unpacked, 0o755); err != nil {
		return "", err
	}
	a, err := os.Open(archive)
	if err != nil {
		return "", err
	}
	err = extractTar(ctx, a, unpacked, extractLimits{MaxBytes: f.maxBytes(), MaxEntries: defaultExtractLimits.MaxEntries})
	a.Close()
	if err != nil {
		return "", fmt.Errorf("unpack %s: %w", p.loc, err)
	}
	bp, err := buildpackRoot(unpacked)
	if err != nil {
		return "", fmt.Errorf("unpack %s: %w", p.loc, err)
	}
	return publishDir(bp, final)
}

// download saves p.loc to dst, bounded, and verifies the checksum.
func (f *Fetcher) download(ctx context.Context, p parsedSource, dst string) error {
	client := f.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.loc, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download %s: HTTP status %s", p.loc, resp.Status)
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	h := sha256.New()
	limit := f.maxBytes()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(resp.Body, limit+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("download %s: %w", p.loc, err)
	}
	if n > limit {
		return fmt.Errorf("download %s: larger than %d bytes", p.loc, limit)
	}
	if got := hex.EncodeToString(h.Sum(nil)); p.sum != "" && got != p.sum {
		return fmt.Errorf("download %s: sha256 is %s, want %s", p.loc, got, p.sum)
	}
	return nil
}

// buildpackRoot finds bin/ at the top of dir or in its only subdirectory
// (archives made with "tar czf bp.tgz bp/").
func buildpackRoot(dir string) (string, error) {
	if fi, err := os.Stat(filepath.Join(dir, "bin")); err == nil && fi.IsDir() {
		return dir, nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	if len(ents) == 1 && ents[0].IsDir() {
		sub := filepath.Join(dir, ents[0].Name())
		if fi, err := os.Stat(filepath.Join(sub, "bin")); err == nil && fi.IsDir() {
			return sub, nil
		}
	}
	return "", errors.New("no bin/ directory at the top (a buildpack needs bin/detect and bin/compile)")
}

// publishDir renames src to final; when another process published final
// first, that copy wins.
func publishDir(src, final string) (string, error) {
	if err := os.Rename(src, final); err != nil {
		if fi, serr := os.Stat(final); serr == nil && fi.IsDir() {
			return final, nil
		}
		return "", err
	}
	return final, nil
}

// gitRefs records, per repository, what each ref resolved to, so tags and
// commits need no network once fetched.
type gitRefs map[string]gitRef

type gitRef struct {
	Commit string `json:"commit"`
	Kind   string `json:"kind"` // "branch", "tag", "commit", "head"
}

func (f *Fetcher) fetchGit(ctx context.Context, root string, p parsedSource) (string, error) {
	repoDir := filepath.Join(root, "git", hashKey(p.loc))
	if err := os.MkdirAll(repoDir, 0o755); err != nil {
		return "", err
	}
	unlock, err := lockFile(ctx, repoDir, unix.LOCK_EX)
	if err != nil {
		return "", fmt.Errorf("lock %s: %w", repoDir, err)
	}
	defer unlock()
	refs := readGitRefs(repoDir)
	checkout := func(commit string) string { return filepath.Join(repoDir, "co-"+commit) }
	exists := func(dir string) bool { fi, err := os.Stat(dir); return err == nil && fi.IsDir() }

	if r, ok := refs[p.ref]; ok && (r.Kind == "tag" || r.Kind == "commit") && exists(checkout(r.Commit)) {
		return checkout(r.Commit), nil
	}
	if fullSHA.MatchString(p.ref) && exists(checkout(p.ref)) {
		return checkout(p.ref), nil
	}

	resolved, err := f.lsRemote(ctx, p)
	if err != nil {
		if r, ok := refs[p.ref]; ok && exists(checkout(r.Commit)) {
			f.logger().Warn("buildpack: remote unreachable, using the last fetched commit", "url", p.loc, "ref", p.ref, "commit", r.Commit, "err", err)
			return checkout(r.Commit), nil
		}
		return "", err
	}
	if resolved.Commit != "" && exists(checkout(resolved.Commit)) {
		refs[p.ref] = resolved.gitRef
		return checkout(resolved.Commit), writeGitRefs(repoDir, refs)
	}

	bare := filepath.Join(repoDir, "repo.git")
	if !exists(bare) {
		if _, err := f.git(ctx, "", "init", "--quiet", "--bare", bare); err != nil {
			return "", err
		}
	}
	if resolved.Kind == "commit" {
		// A commit named by its hash: fetch every branch and tag, then
		// look it up (servers need not allow fetching a bare hash).
		if _, err := f.git(ctx, bare, "fetch", "--quiet", "--", p.loc, "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"); err != nil {
			return "", err
		}
		out, err := f.git(ctx, bare, "rev-parse", "--verify", "--quiet", p.ref+"^{commit}")
		if err != nil {
			return "", fmt.Errorf("ref %q is not a branch, tag or commit of %s", p.ref, p.loc)
		}
		resolved.Commit = strings.TrimSpace(string(out))
	} else {
		if _, err := f.git(ctx, bare, "fetch", "--quiet", "--depth=1", "--", p.loc, "+"+resolved.fullRef+":refs/dynokit/fetched"); err != nil {
			return "", err
		}
		out, err := f.git(ctx, bare, "rev-parse", "--verify", "refs/dynokit/fetched^{commit}")
		if err != nil {
			return "", err
		}
		if got := strings.TrimSpace(string(out)); got != resolved.Commit {
			// The ref moved between ls-remote and fetch: use what we got.
			resolved.Commit = got
		}
	}
	if !exists(checkout(resolved.Commit)) {
		if err := f.gitCheckout(ctx, root, bare, resolved.Commit, checkout(resolved.Commit)); err != nil {
			return "", err
		}
	}
	refs[p.ref] = resolved.gitRef
	return checkout(resolved.Commit), writeGitRefs(repoDir, refs)
}

var fullSHA = regexp.MustCompile(`^[0-9a-f]{40}$|^[0-9a-f]{64}$`)
var shortSHA = regexp.MustCompile(`^[0-9a-f]{7,64}$`)

type resolvedRef struct {
	gitRef
	fullRef string
}

// lsRemote resolves p.ref on the remote.
func (f *Fetcher) lsRemote(ctx context.Context, p parsedSource) (resolvedRef, error) {
	out, err := f.git(ctx, "", "ls-remote", "--", p.loc)
	if err != nil {
		return resolvedRef{}, err
	}
	remote := ParseLsRemote(out)
	if p.ref == "" {
		if c, ok := remote["HEAD"]; ok {
			return resolvedRef{gitRef{Commit: c, Kind: "head"}, "HEAD"}, nil
		}
		return resolvedRef{}, fmt.Errorf("%s has no HEAD (empty repository?)", p.loc)
	}
	if c, ok := remote["refs/tags/"+p.ref+"^{}"]; ok {
		return resolvedRef{gitRef{Commit: c, Kind: "tag"}, "refs/tags/" + p.ref}, nil
	}
	if c, ok := remote["refs/tags/"+p.ref]; ok {
		return resolvedRef{gitRef{Commit: c, Kind: "tag"}, "refs/tags/" + p.ref}, nil
	}
	if c, ok := remote["refs/heads/"+p.ref]; ok {
		return resolvedRef{gitRef{Commit: c, Kind: "branch"}, "refs/heads/" + p.ref}, nil
	}
	if shortSHA.MatchString(p.ref) {
		commit := ""
		if fullSHA.MatchString(p.ref) {
			commit = p.ref
		}
		return resolvedRef{gitRef{Commit: commit, Kind: "commit"}, ""}, nil
	}
	return resolvedRef{}, fmt.Errorf("ref %q is not a branch or tag of %s", p.ref, p.loc)
}

// ParseLsRemote parses `git ls-remote` output ("<hash>\t<ref>" lines)
// into ref → hash. Malformed lines are skipped.
func ParseLsRemote(out []byte) map[string]string {
	refs := map[string]string{}
	for line := range bytes.SplitSeq(out, []byte("\n")) {
		hash, ref, ok := bytes.Cut(bytes.TrimRight(line, "\r"), []byte("\t"))
		if !ok || !fullSHA.Match(hash) || len(ref) == 0 || bytes.ContainsAny(ref, " \t\x00") {
			continue
		}
		refs[string(ref)] = string(hash)
	}
	return refs
}

// gitCheckout writes the tree of commit into dst via git archive and the
// safe extractor (no index or worktree to manage).
func (f *Fetcher) gitCheckout(ctx context.Context, root, bare, commit, dst string) error {
	tmp, err := os.MkdirTemp(filepath.Join(root, "tmp"), "git-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	archive := filepath.Join(tmp, "tree.tar")
	if _, err := f.git(ctx, bare, "archive", "--format=tar", "--output="+archive, commit); err != nil {
		return err
	}
	tree := filepath.Join(tmp, "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		return err
	}
	a, err := os.Open(archive)
	if err != nil {
		return err
	}
	err = extractTar(ctx, a, tree, extractLimits{MaxBytes: f.maxBytes(), MaxEntries: defaultExtractLimits.MaxEntries})
	a.Close()
	if err != nil {
		return fmt.Errorf("check out %s: %w", commit, err)
	}
	_, err = publishDir(tree, dst)
	return err
}

// git runs git with a fixed, prompt-free environment. gitDir may be "".
func (f *Fetcher) git(ctx context.Context, gitDir string, args ...string) ([]byte, error) {
	bin := f.Git
	if bin == "" {
		bin = "git"
	}
	full := []string{"-c", "protocol.ext.allow=never", "-c", "core.hooksPath=/dev/null"}
	if gitDir != "" {
		full = append(full, "--git-dir="+gitDir)
	}
	full = append(full, args...)
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"GIT_TERMINAL_PROMPT=0",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_ASKPASS=/bin/false",
		"SSH_ASKPASS=/bin/false",
		"LC_ALL=C",
	}
	var stdout bytes.Buffer
	stderr := boundedBuffer{max: 4 << 10}
	path := bin
	if !strings.Contains(bin, "/") {
		p, err := exec.LookPath(bin)
		if err != nil {
			return nil, err
		}
		path = p
	}
	code, err := (&LocalRunner{}).Run(ctx, Command{Phase: PhaseFetch, Path: path, Args: full, Env: env, Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		return nil, fmt.Errorf("git %s: %w", args[0], err)
	}
	if code != 0 {
		return nil, fmt.Errorf("git %s exited with code %d: %s", args[0], code, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

func readGitRefs(repoDir string) gitRefs {
	refs := gitRefs{}
	data, err := os.ReadFile(filepath.Join(repoDir, "refs.json"))
	if err == nil {
		_ = json.Unmarshal(data, &refs) // a damaged file only costs a re-fetch
	}
	return refs
}

func writeGitRefs(repoDir string, refs gitRefs) error {
	data, err := json.Marshal(refs)
	if err != nil {
		return err
	}
	tmp := filepath.Join(repoDir, "refs.json.tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(repoDir, "refs.json"))
}
