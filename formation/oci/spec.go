package oci

import (
	"cmp"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/dynokit/dynokit/formation"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// OCIVersion is the ociVersion written into generated specs. The spec uses
// only runtime-spec 1.0.2 features, and crun 1.8 rejects newer versions
// ("unknown version specified") while runc accepts both.
const OCIVersion = "1.0.2-dev"

// Defaults used by Spec.
const (
	// DefaultUID and DefaultGID are the dyno user when none is configured
	// (nobody:nogroup on Debian).
	DefaultUID = 65534
	DefaultGID = 65534
	// DefaultTmpSize bounds the dyno's tmpfs /tmp.
	DefaultTmpSize = 64 << 20
	// DefaultPath is Heroku's base PATH before .profile.d runs.
	DefaultPath = "/usr/local/bin:/usr/bin:/bin"
	// AppDir is where the slug appears inside the dyno; it is also HOME.
	AppDir = "/app"
)

// HostSystemDirs returns the host directories that the minimal rootfs binds
// read-only into every dyno: the userland (/usr, plus /bin, /sbin and the
// lib dirs, which are symlinks into /usr on merged-usr hosts and are bound
// through the symlink) and /etc.
func HostSystemDirs() []string {
	return []string{"/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64"}
}

// Opt mutates a spec after Spec has filled in the defaults.
type Opt func(*specs.Spec) error

// initScript is the dyno's PID 1. Without a handler, PID 1 of a PID
// namespace ignores SIGTERM, so the command must not be PID 1: this bash
// starts it as a child, waits for it, and exits with its status, which tears
// down the PID namespace (and every orphan in it). Signals reach the command
// because the runtime delivers them to every process (kill --all); this
// shell installs no handlers, so the kernel keeps ignoring them for PID 1.
//
// $1 is the command. fd 4 (when open) reports "started" and "exited N" to
// the host, and fd 3 holds the exit until the host has read the cgroup's
// OOM counter (the runtime removes the cgroup as soon as PID 1 exits). Both
// are optional, so a bare `runc run` of the bundle works too. stdin is
// redirected explicitly because bash gives background jobs /dev/null.
const initScript = initStart + `) <&0 &
wait "$!"
` + initEnd

// bootstrap runs the command $1 as a dyno does: .profile.d/*.sh and
// .profile are sourced, then bash -c replaces the shell. Both the init
// (in a subshell) and Dyno.Exec run it.
const bootstrap = `  for f in /app/.profile.d/*.sh; do
    if [ -r "$f" ]; then . "$f"; fi
  done
  if [ -r /app/.profile ]; then . /app/.profile; fi
  exec bash -c "$1"
`

// execScript is bootstrap for ExecProcess. It first waits for a line on fd
// 3, when that is open, so that Dyno.Exec can look at the process before
// anything runs.
const execScript = `{ read -r -u 3 _; exec 3<&-; } 2>/dev/null
` + bootstrap

// initStart and initEnd are initScript around how the command runs.
const (
	initStart = `{ echo started >&4; } 2>/dev/null
(
  exec 3<&- 4>&-
` + bootstrap
	initEnd = `status=$?
{ echo "exited $status" >&4; } 2>/dev/null
read -r -u 3 _ 2>/dev/null
exit "$status"`
)

// terminalInit is initScript for a dyno on a terminal: the command runs in
// the foreground, since a non-interactive shell's background job ignores
// SIGINT, which must reach it from the terminal's ^C (PID 1 itself ignores
// it, having no handler).
const terminalInit = initStart + ")\n" + initEnd

// initFor is the init of d.
func initFor(d formation.DynoSpec) string {
	if d.Terminal != nil {
		return terminalInit
	}
	return initScript
}

// idPattern is the container ID syntax runc accepts.
var idPattern = regexp.MustCompile(`^[\w+.-]+$`)

// envKeyPattern is a portable environment variable name.
var envKeyPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ValidateDynoSpec reports the first field of d that cannot become a
// container: the error names the field and the rule it broke.
func ValidateDynoSpec(d formation.DynoSpec) error {
	switch {
	case d.ID == "":
		return errors.New("oci: dyno spec: ID is empty")
	case len(d.ID) > 200:
		return fmt.Errorf("oci: dyno spec: ID %q is longer than 200 bytes", d.ID)
	case !idPattern.MatchString(d.ID) || d.ID == "." || d.ID == "..":
		return fmt.Errorf("oci: dyno spec: ID %q must use only letters, digits and _ + - . (and not be . or ..)", d.ID)
	case strings.TrimSpace(d.Command) == "":
		return fmt.Errorf("oci: dyno spec %s: Command is empty", d.ID)
	case d.SlugDir == "":
		return fmt.Errorf("oci: dyno spec %s: SlugDir is empty", d.ID)
	case !filepath.IsAbs(d.SlugDir):
		return fmt.Errorf("oci: dyno spec %s: SlugDir %q is not an absolute path", d.ID, d.SlugDir)
	case strings.ContainsAny(d.SlugDir, ",:"):
		// The slug is an overlayfs lower layer; its mount options cannot hold these.
		return fmt.Errorf("oci: dyno spec %s: SlugDir %q contains ',' or ':', which overlayfs options cannot hold", d.ID, d.SlugDir)
	case d.Port < 0 || d.Port > 65535:
		return fmt.Errorf("oci: dyno spec %s: Port %d is outside 0-65535", d.ID, d.Port)
	case d.Resources.MemoryBytes < 0:
		return fmt.Errorf("oci: dyno spec %s: Resources.MemoryBytes %d is negative", d.ID, d.Resources.MemoryBytes)
	case d.Resources.MemoryBytes > 0 && d.Resources.MemoryBytes < 4<<20:
		return fmt.Errorf("oci: dyno spec %s: Resources.MemoryBytes %d is below the 4 MiB a dyno needs to start", d.ID, d.Resources.MemoryBytes)
	case d.Resources.PIDs < 0:
		return fmt.Errorf("oci: dyno spec %s: Resources.PIDs %d is negative", d.ID, d.Resources.PIDs)
	case d.Resources.CPUShares < 0:
		return fmt.Errorf("oci: dyno spec %s: Resources.CPUShares %d is negative", d.ID, d.Resources.CPUShares)
	}
	if d.Terminal != nil {
		if err := d.Terminal.Validate(); err != nil {
			return fmt.Errorf("oci: dyno spec %s: %w", d.ID, err)
		}
	}
	for i, kv := range d.Env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || !envKeyPattern.MatchString(k) {
			return fmt.Errorf("oci: dyno spec %s: Env[%d] %q is not KEY=VALUE with a name of letters, digits and _", d.ID, i, kv)
		}
		if strings.ContainsRune(kv, 0) {
			return fmt.Errorf("oci: dyno spec %s: Env[%d] for %s contains a NUL byte", d.ID, i, k)
		}
	}
	if strings.ContainsRune(d.Command, 0) {
		return fmt.Errorf("oci: dyno spec %s: Command contains a NUL byte", d.ID)
	}
	return nil
}

// Spec turns a dyno into an OCI runtime spec: defaults first, then opts in
// order. The defaults need nothing from the host, so the same DynoSpec and
// opts always give the same spec.
//
// Defaults: a read-only rootfs at "rootfs" in the bundle with the host's
// HostSystemDirs bound read-only; the slug bound read-only at /app (see
// WithAppLayer for the writable layer); tmpfs /tmp; /proc, a minimal /dev,
// /dev/pts, /dev/shm, /dev/mqueue and a read-only /sys; pid, mount, uts and
// ipc namespaces, sharing the host network; the dyno's memory and PID
// limits; no new privileges and three bounding capabilities; user
// DefaultUID:DefaultGID with no supplementary groups; the Heroku dyno
// environment; and the init that sources .profile.d before running the
// command.
func Spec(d formation.DynoSpec, opts ...Opt) (*specs.Spec, error) {
	if err := ValidateDynoSpec(d); err != nil {
		return nil, err
	}
	hostname := d.Name
	if hostname == "" || !validHostname(hostname) {
		hostname = "dyno"
	}
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	var console *specs.Box
	if t := d.Terminal; t != nil {
		console = &specs.Box{Width: uint(cmp.Or(t.Cols, 80)), Height: uint(cmp.Or(t.Rows, 24))}
	}
	s := &specs.Spec{
		Version: OCIVersion,
		Process: &specs.Process{
			User: specs.User{UID: DefaultUID, GID: DefaultGID},
			Args: []string{"/bin/bash", "-c", initFor(d), "dyno-init", d.Command},
			Env:  dynoEnv(d),
			Cwd:  AppDir,
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  slices.Clone(caps),
				Effective: slices.Clone(caps),
				Permitted: slices.Clone(caps),
			},
			NoNewPrivileges: true,
			Terminal:        console != nil,
			ConsoleSize:     console,
		},
		Root:     &specs.Root{Path: "rootfs", Readonly: true},
		Hostname: hostname,
		Mounts:   baseMounts(d.SlugDir),
		Annotations: map[string]string{
			"dev.dynokit.app":     d.App,
			"dev.dynokit.dyno":    d.Name,
			"dev.dynokit.type":    d.Type,
			"dev.dynokit.release": strconv.Itoa(d.Release),
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace},
				{Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace},
				{Type: specs.MountNamespace},
			},
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
			MaskedPaths: []string{
				"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
				"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
				"/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
			},
			ReadonlyPaths: []string{
				"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
			},
		},
	}
	for k, v := range s.Annotations {
		if v == "" {
			delete(s.Annotations, k)
		}
	}
	if d.Resources.MemoryBytes > 0 {
		if err := WithMemoryLimit(d.Resources.MemoryBytes)(s); err != nil {
			return nil, err
		}
	}
	if d.Resources.PIDs > 0 {
		if err := WithPIDsLimit(d.Resources.PIDs)(s); err != nil {
			return nil, err
		}
	}
	if d.Resources.CPUShares > 0 {
		// Clamped as the kernel would: runc refuses a value the kernel
		// does not store as written.
		if err := WithCPUShares(min(max(d.Resources.CPUShares, MinCPUShares), MaxCPUShares))(s); err != nil {
			return nil, err
		}
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(s); err != nil {
			return nil, fmt.Errorf("oci: spec for %s: %w", d.ID, err)
		}
	}
	return s, nil
}

// dynoEnv is the dyno's environment per Heroku: PATH and HOME first, then
// the platform's entries (later ones win), then PORT and DYNO when the
// platform did not set them. Duplicates are dropped so every process sees
// the winning value whatever its getenv does.
func dynoEnv(d formation.DynoSpec) []string {
	all := []string{"PATH=" + DefaultPath, "HOME=" + AppDir}
	all = append(all, d.Env...)
	has := func(key string) bool {
		for _, kv := range d.Env {
			if strings.HasPrefix(kv, key+"=") {
				return true
			}
		}
		return false
	}
	if d.Port > 0 && !has("PORT") {
		all = append(all, "PORT="+strconv.Itoa(d.Port))
	}
	if d.Name != "" && !has("DYNO") {
		all = append(all, "DYNO="+d.Name)
	}
	return mergeEnv(all, nil)
}

func validHostname(h string) bool {
	if len(h) > 63 {
		return false
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

func baseMounts(slugDir string) []specs.Mount {
	ms := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
	}
	for _, dir := range HostSystemDirs() {
		ms = append(ms, hostBind(dir))
	}
	ms = append(ms,
		tmpMount(DefaultTmpSize),
		specs.Mount{Destination: AppDir, Type: "bind", Source: slugDir, Options: []string{"rbind", "ro", "nosuid", "nodev"}},
	)
	return ms
}

func hostBind(dir string) specs.Mount {
	return specs.Mount{Destination: dir, Type: "bind", Source: dir, Options: []string{"rbind", "ro", "nosuid", "nodev"}}
}

func tmpMount(size int64) specs.Mount {
	return specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs",
		Options: []string{"nosuid", "nodev", "mode=1777", "size=" + strconv.FormatInt(size, 10)}}
}

// isHostBind reports whether m is one of the read-only host binds that make
// up the minimal rootfs.
func isHostBind(m specs.Mount) bool {
	return m.Type == "bind" && m.Source == m.Destination && m.Destination != AppDir && slices.Contains(m.Options, "ro")
}

// WithUser runs the dyno's processes as uid:gid with no supplementary
// groups. Root (0) is refused: dynos are unprivileged by design.
func WithUser(uid, gid uint32) Opt {
	return func(s *specs.Spec) error {
		if uid == 0 || gid == 0 {
			return fmt.Errorf("user %d:%d: dynos do not run as root (uid and gid must be non-zero)", uid, gid)
		}
		s.Process.User = specs.User{UID: uid, GID: gid}
		return nil
	}
}

// WithHostBinds replaces the host directories bound read-only into the
// minimal rootfs. Each must be an absolute, clean path other than /, /app,
// /proc, /dev, /sys or /tmp.
func WithHostBinds(dirs ...string) Opt {
	return func(s *specs.Spec) error {
		for _, dir := range dirs {
			if !path.IsAbs(dir) || path.Clean(dir) != dir || dir == "/" {
				return fmt.Errorf("host bind %q: want an absolute, clean path other than /", dir)
			}
			for _, reserved := range []string{AppDir, "/proc", "/dev", "/sys", "/tmp"} {
				if dir == reserved || strings.HasPrefix(dir, reserved+"/") {
					return fmt.Errorf("host bind %q: %s is managed by the dyno spec", dir, reserved)
				}
			}
		}
		var kept []specs.Mount
		inserted := false
		for _, m := range s.Mounts {
			if isHostBind(m) {
				if !inserted {
					for _, dir := range dirs {
						kept = append(kept, hostBind(dir))
					}
					inserted = true
				}
				continue
			}
			kept = append(kept, m)
		}
		if !inserted {
			return errors.New("host binds: the spec has no minimal rootfs (a stack rootfs is set)")
		}
		s.Mounts = kept
		return nil
	}
}

// WithRootfs uses dir, a stack image unpacked on the host (a Debian
// debootstrap, heroku-24…), as the dyno's root filesystem instead of the
// minimal rootfs, and drops the host binds. dir is mounted read-only; it
// should already contain /app, /tmp, /proc, /dev and /sys, or the runtime
// creates them in it.
func WithRootfs(dir string) Opt {
	return func(s *specs.Spec) error {
		if !filepath.IsAbs(dir) {
			return fmt.Errorf("rootfs %q: want an absolute path", dir)
		}
		s.Root = &specs.Root{Path: dir, Readonly: true}
		s.Mounts = slices.DeleteFunc(s.Mounts, isHostBind)
		return nil
	}
}

// WithAppLayer makes /app writable without touching the slug: an overlayfs
// with the slug as its read-only lower layer and upper and work (empty
// directories on one filesystem, outside the slug) holding the dyno's
// changes. The mount is made inside the container's mount namespace, so it
// disappears with the dyno.
func WithAppLayer(upper, work string) Opt {
	return func(s *specs.Spec) error {
		for _, p := range []string{upper, work} {
			if !filepath.IsAbs(p) || strings.ContainsAny(p, ",:") {
				return fmt.Errorf("app layer dir %q: want an absolute path without ',' or ':'", p)
			}
		}
		for i, m := range s.Mounts {
			if m.Destination != AppDir {
				continue
			}
			lower := m.Source
			if m.Type == "overlay" {
				return errors.New("app layer: /app is already an overlay")
			}
			s.Mounts[i] = specs.Mount{Destination: AppDir, Type: "overlay", Source: "overlay", Options: []string{
				"lowerdir=" + lower, "upperdir=" + upper, "workdir=" + work, "nosuid", "nodev",
			}}
			return nil
		}
		return errors.New("app layer: the spec has no /app mount")
	}
}

// WithMemoryLimit caps the dyno's memory (cgroup memory limit); exceeding it
// gets the dyno OOM-killed.
func WithMemoryLimit(bytes int64) Opt {
	return func(s *specs.Spec) error {
		if bytes < 4<<20 {
			return fmt.Errorf("memory limit %d: want at least 4 MiB", bytes)
		}
		res := resources(s)
		if res.Memory == nil {
			res.Memory = &specs.LinuxMemory{}
		}
		res.Memory.Limit = &bytes
		return nil
	}
}

// WithPIDsLimit caps the number of processes and threads in the dyno.
func WithPIDsLimit(n int64) Opt {
	return func(s *specs.Spec) error {
		if n < 1 {
			return fmt.Errorf("pids limit %d: want at least 1", n)
		}
		resources(s).Pids = &specs.LinuxPids{Limit: &n}
		return nil
	}
}

// The range of cgroup v1 cpu.shares (the kernel's MIN_SHARES and
// MAX_SHARES); runtimes map it onto cgroup v2 cpu.weight.
const (
	MinCPUShares = 2
	MaxCPUShares = 1 << 18
)

// WithCPUShares sets the dyno's relative CPU weight (OCI
// linux.resources.cpu.shares, formation.Resources.CPUShares: 1024 is one
// standard-1X share). The runtime writes it to cpu.shares on cgroup v1
// and converts it to cpu.weight on v2 (runc and crun differ by version:
// 1024 is 39 with the old linear formula, 100 with the one of runc 1.3.2
// and crun 1.23).
func WithCPUShares(shares int64) Opt {
	return func(s *specs.Spec) error {
		if shares < MinCPUShares || shares > MaxCPUShares {
			return fmt.Errorf("cpu shares %d: want %d-%d", shares, MinCPUShares, MaxCPUShares)
		}
		res := resources(s)
		if res.CPU == nil {
			res.CPU = &specs.LinuxCPU{}
		}
		v := uint64(shares)
		res.CPU.Shares = &v
		return nil
	}
}

func resources(s *specs.Spec) *specs.LinuxResources {
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	if s.Linux.Resources == nil {
		s.Linux.Resources = &specs.LinuxResources{}
	}
	return s.Linux.Resources
}

// WithCgroupsPath places the dyno in the cgroup at p (absolute, relative to
// each hierarchy's root; cgroupfs driver).
func WithCgroupsPath(p string) Opt {
	return func(s *specs.Spec) error {
		if !path.IsAbs(p) || path.Clean(p) != p || p == "/" {
			return fmt.Errorf("cgroups path %q: want an absolute, clean path other than /", p)
		}
		if s.Linux == nil {
			s.Linux = &specs.Linux{}
		}
		s.Linux.CgroupsPath = p
		return nil
	}
}

// WithTmpSize sets the size of the dyno's tmpfs /tmp.
func WithTmpSize(bytes int64) Opt {
	return func(s *specs.Spec) error {
		if bytes < 1<<20 {
			return fmt.Errorf("tmp size %d: want at least 1 MiB", bytes)
		}
		for i, m := range s.Mounts {
			if m.Destination == "/tmp" {
				s.Mounts[i] = tmpMount(bytes)
				return nil
			}
		}
		return errors.New("tmp size: the spec has no /tmp mount")
	}
}

// WithNetworkNamespace gives the dyno its own network namespace with only
// loopback up. The router on the host cannot reach such a dyno; it suits
// workers that must not listen on the host. (Per-dyno veth networking is
// not implemented.)
func WithNetworkNamespace() Opt {
	return func(s *specs.Spec) error {
		for _, ns := range s.Linux.Namespaces {
			if ns.Type == specs.NetworkNamespace {
				return nil
			}
		}
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
		return nil
	}
}

// WithOCIVersion overrides the ociVersion field (OCIVersion by default).
func WithOCIVersion(v string) Opt {
	return func(s *specs.Spec) error {
		if v == "" {
			return errors.New("oci version: empty")
		}
		s.Version = v
		return nil
	}
}

// ExecProcess is the process that `<binary> exec --process` runs for e in
// a running container made from s (Spec's output, with opts applied): the
// container's user, capabilities, working directory (/app) and
// environment, with e.Env added (later entries win), running e.Command
// with the dyno's bootstrap (.profile.d, then bash -c; an empty Command
// is bash). A terminal, when e asks for one, is process.terminal with
// e.Terminal's size. When fd 3 is open (--preserve-fds=1), the process
// first waits for a line on it, as Dyno.Exec uses; otherwise it runs at
// once.
func ExecProcess(s *specs.Spec, e formation.ExecSpec) (*specs.Process, error) {
	if s == nil || s.Process == nil {
		return nil, errors.New("oci: exec process: the container spec has no process")
	}
	if e.Terminal != nil {
		if err := e.Terminal.Validate(); err != nil {
			return nil, fmt.Errorf("oci: exec process: %w", err)
		}
	}
	if strings.ContainsRune(e.Command, 0) {
		return nil, errors.New("oci: exec process: Command contains a NUL byte")
	}
	for i, kv := range e.Env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || !envKeyPattern.MatchString(k) {
			return nil, fmt.Errorf("oci: exec process: Env[%d] %q is not KEY=VALUE with a name of letters, digits and _", i, kv)
		}
		if strings.ContainsRune(kv, 0) {
			return nil, fmt.Errorf("oci: exec process: Env[%d] for %s contains a NUL byte", i, k)
		}
	}
	command := e.Command
	if command == "" {
		command = "bash"
	}
	p := *s.Process
	p.Args = []string{"/bin/bash", "-c", execScript, "dyno-exec", command}
	p.Env = mergeEnv(s.Process.Env, e.Env)
	if p.Cwd == "" {
		p.Cwd = AppDir
	}
	if c := s.Process.Capabilities; c != nil {
		p.Capabilities = &specs.LinuxCapabilities{
			Bounding:    slices.Clone(c.Bounding),
			Effective:   slices.Clone(c.Effective),
			Inheritable: slices.Clone(c.Inheritable),
			Permitted:   slices.Clone(c.Permitted),
			Ambient:     slices.Clone(c.Ambient),
		}
	}
	p.User.AdditionalGids = slices.Clone(s.Process.User.AdditionalGids)
	p.Rlimits = slices.Clone(s.Process.Rlimits)
	p.Terminal = e.Terminal != nil
	p.ConsoleSize = nil
	if t := e.Terminal; t != nil {
		p.ConsoleSize = &specs.Box{Width: uint(cmp.Or(t.Cols, 80)), Height: uint(cmp.Or(t.Rows, 24))}
	}
	return &p, nil
}

// mergeEnv is base with extra added: a later entry replaces an earlier one
// of the same name in place.
func mergeEnv(base, extra []string) []string {
	index := map[string]int{}
	out := make([]string, 0, len(base)+len(extra))
	for _, kv := range slices.Concat(base, extra) {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := index[k]; ok {
			out[i] = kv
			continue
		}
		index[k] = len(out)
		out = append(out, kv)
	}
	return out
}
