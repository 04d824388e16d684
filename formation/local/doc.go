// Package local is formation's default runtime: each dyno is a process
// group on this host.
//
// # Lifecycle of a dyno
//
// Start copies the slug directory into a fresh directory under
// Runtime.BaseDir (app/, which becomes HOME and the working directory, and
// tmp/, which becomes TMPDIR), so what a dyno writes is its own and is
// removed when it exits: Heroku's ephemeral filesystem. It then runs bash
// in a new process group (Setpgid) with only the dyno environment (PATH
// /usr/local/bin:/usr/bin:/bin, TMPDIR, the spec's Env, HOME last):
// bash sources $HOME/.profile.d/*.sh in lexical order, then $HOME/.profile,
// then execs `bash -c <command>`.
//
// Signal signals the whole process group (kill(-pgid)); once the main
// process has exited it returns an error wrapping formation.ErrExited
// (ESRCH is mapped the same way, never compared as a string). The dyno
// ends with its main process: the runtime notices the exit without
// reaping it (waitid WNOWAIT), so the zombie still holds the process group
// ID while the rest of the group gets SIGKILL (no recycled group can be
// hit), then reaps it. WaitDelay (2 s) bounds how long Wait waits for
// output pipes held by processes outside the group.
//
// # Terminals
//
// A dyno with DynoSpec.Terminal (heroku run from a terminal) runs on a
// pseudo-terminal of that size (internal/pty's Relay): bash starts a new
// session (setsid, which is also a new process group, the dyno's) with
// the terminal as its standard streams and controlling terminal. The caller's
// Stdin is copied to the terminal as keystrokes and everything the
// terminal prints goes to Stdio.Stdout; the copy ends when no process
// holds the terminal any more, or WaitDelay after the main process exits.
// An interactive shell puts each job in a process group of its own, which
// kill(-pgid) does not reach: the dyno's cgroup (when it has one) does,
// and the end of the session hangs up the terminal (SIGHUP) for the rest.
//
// # Limits
//
// When DynoSpec.Resources is set and cgroups are usable (root, or a
// delegated hierarchy), the dyno runs in its own cgroup under
// CgroupParent ("dynokit"): on cgroup v1 (and hybrid layouts whose
// unified hierarchy lacks the memory controller) memory.limit_in_bytes,
// pids.max and cpu.shares (Resources.CPUShares as is, clamped to the
// kernel's 2-262144), joined by the dyno's shell before it runs anything;
// on cgroup v2 memory.max, pids.max and cpu.weight, joined atomically at
// clone (CLONE_INTO_CGROUP). cpu.weight is CPUShares converted as runc
// 1.3.2+ and crun 1.23+ convert OCI cpu.shares (1024 is 100, the default;
// 2048 is 174), so a dyno gets the same weight here as in a container.
// Without the cpu controller (not mounted, or not delegated on v2) a dyno
// with CPUShares runs without a weight and a warning is logged, or Start
// fails when RequireLimits is set; Runtime.CPUWeights says which. The cgroup also catches processes that left the
// process group (setsid): they are signalled and killed with the dyno. An
// out-of-memory kill is reported as Exit.OOMKilled (from oom_kill in
// memory.oom_control or memory.events) and Dyno.Memory reports usage for
// R14 warnings. Without cgroups such a dyno runs unlimited with a warning,
// or fails to start when RequireLimits is set; Runtime.MemoryLimits says
// which. The v2 path is written to the kernel documentation but has not
// run on the project's CI machine (cgroup v1 hybrid).
//
// # Orphans
//
// Processes a dyno leaves behind are killed with it. Heroku also reaps
// orphans; Runtime.Subreaper makes the host process a child subreaper
// (prctl PR_SET_CHILD_SUBREAPER) so orphans of dynos are reparented to it
// and reaped here. It is off by default because it is process-wide: an
// embedding program's other subprocess trees would leave their orphans as
// zombies of the host unless it reaps them.
package local
