// Package oci is a formation.Runtime that runs each dyno as an OCI
// container with runc or crun.
//
// # Vocabulary
//
// A bundle is a directory holding config.json (the OCI runtime spec) and,
// here, the root filesystem and the dyno's writable /app layer. The state
// dir is the OCI runtime's --root, where it keeps what it knows about live
// containers. A dyno's container ID is its DynoSpec.ID.
//
// Spec generation is separate from running: Spec turns a formation.DynoSpec
// into a *specs.Spec (defaults first, then Opt mutators such as
// WithMemoryLimit, WithUser, WithRootfs or WithAppLayer), and WriteBundle
// writes it out. Both are pure enough to test with golden files, and a
// platform can use them without Runtime.
//
// # Lifecycle
//
// Runtime.Start validates the dyno, writes its bundle under
// Dir/bundles/<id>, and runs `<binary> --root Dir/state run` in the
// foreground with the dyno's stdio passed straight through (no terminal).
// It returns once the container's init reports that it runs, or with the
// runtime's own error message (from its --log file) when it fails.
//
// PID 1 in the container is a small bash init, not the dyno's command:
// PID 1 of a PID namespace ignores SIGTERM unless it installs a handler,
// which most apps do not. The init sources /app/.profile.d/*.sh (in
// lexical order) and /app/.profile in a subshell, which then execs
// `bash -c <command>`; the init waits for it and exits with its status,
// which ends the PID namespace and every orphan in it (Heroku: the dyno is
// over when its command is).
//
// Dyno.Signal runs `<binary> kill --all`, so every process in the dyno gets
// the signal; formation.Stop builds TERM, grace, KILL on it. Statuses are
// reported as Heroku does: 128+n for a process killed by signal n, and
// since that status passes through the init, Exit.Signal is derived from
// it (a command that itself exits 143 reads as killed by SIGTERM).
//
// Out-of-memory kills are read from the dyno's cgroup (oom_kill in
// memory.oom_control on cgroup v1, memory.events on v2). The runtime removes
// the cgroup as soon as init exits, so init and the host hold a tiny
// handshake over two inherited pipes (--preserve-fds 2): init reports
// "started" and "exited N" on fd 4, and waits on fd 3 until the host has
// read the counter. A bare `runc run` of the bundle works without them.
// Exits are cached: any number of Wait calls, before or after the exit,
// see the same Exit. After the exit the container, its cgroup and its
// bundle are removed before Wait returns, and the ID can be used again.
//
// # Choices
//
// Rootfs: by default a minimal rootfs in the bundle, made only of
// mountpoints, with the host's /usr, /etc, /bin, /sbin, /lib and /lib64
// bound read-only (on merged-usr hosts the latter are symlinks and are
// bound through them); the root itself is read-only. A read-only bind of
// the host's / is not used: the runtime cannot create the /app mountpoint
// in it. Runtime.Rootfs (WithRootfs) uses a stack image instead.
//
// /app: an overlayfs with the slug as the read-only lower layer and a
// per-dyno upper layer in the bundle, mounted inside the container's mount
// namespace (nothing is mounted on the host, so nothing can leak). The
// slug is never modified; the dyno's changes vanish with it, as Heroku's
// ephemeral filesystem does. The upper layer's root is owned by the dyno
// user, so the app can create files anywhere in /app; files that came
// with the slug keep their owner and mode, so a slug extracted as root is
// read-only to the app except where its modes allow writing (extract slugs
// owned by the dyno user to make them writable, as on Heroku).
//
// Network: dynos share the host's network namespace, so the router reaches
// a web dyno at 127.0.0.1:$PORT. WithNetworkNamespace gives a dyno a
// private namespace with loopback only; per-dyno veth networking is future
// work.
//
// User: every process runs as Runtime.UID:GID (default 65534:65534), never
// root, with no new privileges and three bounding capabilities
// (AUDIT_WRITE, KILL, NET_BIND_SERVICE), which a non-root process does not
// keep across exec, and no supplementary groups (runc and crun add none,
// even for a uid with /etc/group memberships). /tmp is a private
// tmpfs (64 MiB, WithTmpSize).
//
// Namespaces and limits: pid, mount, uts (hostname = dyno name) and ipc;
// Resources.MemoryBytes and Resources.PIDs become cgroup limits in
// CgroupParent/<hash of Dir>-<id> (cgroupfs driver, v1 or v2). The hash
// lets runtimes with different Dirs reuse dyno IDs. Resources.CPUShares
// becomes linux.resources.cpu.shares (WithCPUShares), clamped to the
// kernel's 2-262144: cpu.shares itself on cgroup v1, cpu.weight as the OCI
// runtime converts it on v2 (runc 1.3.2+ and crun 1.23+ map 1024 to 100,
// the default weight; older versions to 39, so on v2 with an old runtime a
// standard-1X container weighs less than a host process).
//
// crun: specs say ociVersion 1.0.2-dev (OCIVersion), which crun 1.8
// requires and runc accepts. crun 1.8 refuses cgroup v1 hybrid hosts whose
// cgroup2 hierarchy still holds a controller; on such hosts move hugetlb
// to v1 once as a machine setup step:
//
//	mkdir -p /sys/fs/cgroup/hugetlb && mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
//
// # Limits
//
// Containers outlive a host process that dies without stopping them; a
// new Runtime on the same Dir refuses their IDs while they run (ErrExists)
// and deletes them once stopped, but does not list or adopt them. If the
// kernel OOM-kills init itself rather than the command, the exit is
// reported as a SIGKILL without OOMKilled. No seccomp profile is applied
// yet.
//
// # Terminals
//
// A dyno with DynoSpec.Terminal gets process.terminal and consoleSize in
// its spec, and the runtime (runc or crun) runs in the foreground on a
// pseudo-terminal of this package's (internal/pty), because both give a
// container a terminal only from a terminal of their own: they put it in
// raw mode and relay it to the container's, whose line discipline then
// does the work. That outer terminal carries the caller's Stdin in and
// the output out to Stdio.Stdout. init runs the command in the
// foreground there, since a non-interactive shell's background job
// ignores SIGINT and ^C must reach it.
//
// # Exec
//
// Dyno.Exec (formation.Execer, heroku ps:exec) runs `<binary> exec
// --process` in the foreground with ExecProcess: the container's user,
// capabilities, /app and environment plus ExecSpec.Env, and the init's
// bootstrap (.profile.d, then bash -c). The process joins the container's
// namespaces and cgroup, so it shares the dyno's limits and dies with its
// PID namespace. Its status comes back through the runtime (128+n when
// killed by signal n); signals go straight to the process group of the
// session the runtime gives it, and what it leaves in that group is
// killed when it exits. A terminal works as the dyno's own does, and
// Resize also resizes the container's terminal, since crun does not pass
// SIGWINCH on.
package oci
