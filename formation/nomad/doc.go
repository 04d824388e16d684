// Package nomad is a formation.Runtime that runs dynos on a HashiCorp
// Nomad cluster: when a platform outgrows one host, an existing scheduler
// places its dynos, not a cluster manager of dynokit's own.
//
// # One dyno, one job
//
// Each dyno becomes one Nomad batch job (Runtime.Job shows it) whose ID is
// DynoSpec.ID:
//
//   - one task group of count 1 with restart attempts 0 (mode "fail") and
//     reschedule attempts 0: Nomad runs the process once and reports how it
//     ended. The formation.Reconciler owns restarts and their back-off, as
//     with the local and OCI backends, so it drives this backend unchanged.
//     Batch, because a dyno that exits 0 is finished, not to be run again.
//   - one task, driver raw_exec by default, running /bin/bash with a
//     bootstrap script: copy or find the slug, set HOME (the app directory)
//     and TMPDIR inside the task directory, source .profile.d/*.sh and
//     .profile, then run the Procfile command with bash -c.
//   - env: DynoSpec.Env (later entries win), PATH=DefaultPath unless Env
//     sets it, PORT=DynoSpec.Port, plus Nomad's NOMAD_* variables.
//   - a web dyno's port is reserved as a static port in the group's network,
//     so Nomad never places two dynos wanting one port on the same node.
//   - kill_signal SIGTERM and kill_timeout Runtime.KillTimeout (default 30 s):
//     what Nomad does when it stops the dyno itself (a drain, a purge).
//   - memory: Resources.MemoryBytes (rounded up to MB), else
//     Runtime.DefaultMemoryMB (512), is what the scheduler reserves and what
//     the client enforces through the task's cgroup (so a dyno without
//     Resources is limited too: Nomad has no unlimited tasks). The exec
//     driver reports OOM kills ("oom_killed" in the Terminated event);
//     raw_exec does not, so the bootstrap looks at its cgroup's oom_kill
//     counter when the command ends and leaves a mark file in the alloc
//     dir, which the runtime reads through the client fs API. Resources.PIDs
//     has no Nomad equivalent and is ignored.
//
// The exec driver (Runtime.Driver = "exec") isolates each dyno with cgroups,
// a chroot and its own PID namespace and is what a production cluster should
// use; raw_exec runs the task as the Nomad client's user with no isolation
// and must be enabled explicitly on the clients. exec cannot see a host
// directory, so it needs the slug as an artifact (Runtime.SlugURL).
//
// # Slug delivery
//
// Without Runtime.SlugURL the bootstrap copies DynoSpec.SlugDir into the
// task directory (local/app): right when the Nomad client runs on the host
// that extracted the slug. With SlugURL, the job carries an artifact block
// pointing at the slug's URL (slug.Handler serves slugs by digest) with
// options archive=tar.gz and checksum=sha256:<hex>; Nomad's client
// downloads, verifies and unpacks it into local/ (a slug's entries are
// ./app/..., hence local/app), and a wrong checksum makes Start fail with
// Nomad's "Failed Artifact Download" message.
//
// # Lifecycle, signals, exits
//
// Start registers the job only if no job has the ID (a dead job of the same
// ID left by a crash is purged first; a live one is formation.ErrExists),
// waits for the evaluation to place it (an unplaceable job is an error
// naming what filtered or exhausted the nodes, and is purged), then for the
// task to be running. A goroutine then watches the allocation with blocking
// queries until the task is dead, maps its last Terminated event onto
// formation.Exit (a signal n becomes status 128+n) and purges the job, which
// frees the ID.
//
// Signal uses Nomad's allocation signal API, which signals the task's main
// process only. That process is the bootstrap bash: it runs the command in a
// process group of its own and forwards HUP, INT, QUIT, USR1, USR2, TERM and
// ALRM to the whole group, so grandchildren get them too; when the command
// ends, what is left of its group is killed and bash ends the way the command
// did. SIGKILL cannot be forwarded: it kills bash, and Nomad then kills the
// rest of the task (its cgroup). Two consequences of running through bash:
// a command that exits with a status between 129 and 192 is reported as
// killed by signal status-128 (bash's wait cannot tell them apart), and a
// process that leaves the group (setsid) is not signalled, only killed at
// the end by Nomad. formation.Stop signals through Signal with its own grace
// (the Nomad job's kill_timeout is fixed at registration).
//
// # Output and input
//
// Stdout and Stderr come from Nomad's log API (/v1/client/fs/logs with
// follow), decoded from its frames; when the task is dead the rotated log
// files are read again until they stop growing, so Wait returns after the
// last byte has been delivered. Nomad cannot feed a task's standard input,
// so for an attached dyno (DynoSpec.Stdin) the bootstrap connects back to
// a one-shot TCP listener of the Runtime (bash's /dev/tcp, at
// Runtime.StdinAddr, which must be reachable from the Nomad client), proves
// itself with a random token, and reads stdin from that connection.
//
// # Addresses
//
// With raw_exec on a client whose network interface is loopback (the dev
// agent) a web dyno binds 127.0.0.1:$PORT, so its address is known before
// Start returns and can go straight into router.SetBackends. On a real
// cluster the address is the node's IP and the reserved port; reading it
// from the allocation (or from Nomad's service registrations) is future
// work, below.
//
// # Testing
//
// The tests start a Nomad dev agent (server and client in one process) on
// free loopback ports with raw_exec enabled, from $DYNOKIT_NOMAD or the
// binary scripts/install-nomad builds (Nomad 1.10.5 from the Go module
// proxy); without one they are skipped unless DYNOKIT_TEST_REQUIRE=1. They
// run the formationtest conformance suite, the Reconciler (deploy, route a
// request through the router, scale down, a crash restarted, stop) and the
// slug as a checksummed artifact from slug.Handler.
//
// # What is left
//
//   - A job-per-formation mode: one job per app and release, a task group
//     per process type with its count, Nomad's restart and reschedule
//     policies standing in for the Reconciler's (scale through the job's
//     count), with dyno states read from the allocations.
//   - Nomad native service registrations (provider "nomad") for web dynos,
//     read back to feed router.SetBackends with the nodes' addresses.
//   - Logs into logplex directly from the allocation log API (today they go
//     to the Stdio writers the platform supplies).
//   - examples/minipaas -runtime nomad.
//   - exec as the default driver. It works here, but each dyno took 15–35 s
//     to start on this 2-core test machine (the client builds a chroot per
//     allocation), and Nomad's artifact getter refuses a slug with no files
//     ("empty archive"); the conformance suite runs against raw_exec.
package nomad
