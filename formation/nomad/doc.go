// Package nomad runs dynos on a HashiCorp Nomad cluster: when a platform
// outgrows one host, an existing scheduler places its dynos, not a cluster
// manager of dynokit's own. It has two modes:
//
//   - Runtime, a formation.Runtime: one Nomad batch job per dyno, driven by
//     formation.Reconciler like the local and OCI backends (the Reconciler
//     owns restarts, back-off, readiness and deploy strategies).
//   - Scheduler, a formation.Scheduler (with Restarter and LogFollower):
//     one Nomad service job per app, Nomad owning placement, counts,
//     restarts, rolling deploys and health.
//
// Both run each dyno as a task "dyno" whose bash bootstrap sets the dyno up
// as Heroku does (below) and both read output from Nomad's log API.
//
// # Runtime: one dyno, one job
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
//   - cpu: Resources.CPUShares as the task's cpu in MHz, one MHz per
//     share (1024 for a standard-1X), else DefaultCPU (100). Nomad writes a
//     task's MHz as its cgroup cpu.shares (cgroup v2: cpu.weight, converted
//     by its runc library), so a dyno weighs what it would under the local
//     and OCI runtimes; the MHz are also reserved against the node's
//     fingerprinted capacity (cores x clock), so a size's shares decide
//     how many dynos fit a node, and a dyno asking for more than any node
//     has is unplaceable ("exhausted on cpu"). The weight is relative and
//     only bites under contention: Nomad's cpu is not a hard cap. Dedicated
//     cores (Nomad's cores, cpuset) are not used.
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
// A platform that dies without stopping its dynos (SIGKILL) leaves their
// jobs running with nobody watching. With Runtime.Owner set, every job
// carries it in its meta (dynokit.owner), and Runtime.PurgeOwned, called
// at the next start before any Start, purges the jobs of that owner.
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
// A dyno with DynoSpec.Terminal runs its command under util-linux's
// script (-qefc), which gives it a pseudo-terminal of the spec's size
// (set with stty), relays that stdin to it as keystrokes and its output
// to the task's stdout, and exits as the command did. The task needs
// script (Debian's bsdutils, an essential package); without it the run
// fails with bash's "script: command not found". Signals for the dyno
// go to the command's session on the terminal (script's child), not to
// script, which on SIGTERM would kill the session at once ("Session
// terminated, killing shell..."): a dyno on a terminal gets its grace
// period like any other.
//
// # Runtime addresses
//
// With raw_exec on a client whose network interface is loopback (the dev
// agent) a web dyno binds 127.0.0.1:$PORT, so its address is known before
// Start returns and can go straight into router.SetBackends. On a real
// cluster the address is the node's IP and the reserved port, which only
// the Scheduler reads back (below).
//
// # Scheduler: one app, one job
//
// Scheduler.Apply registers the job Scheduler.Job builds from a
// formation.Deployment, with ID JobPrefix+app ("dynokit-shop"):
//
//   - driver Scheduler.Driver; when empty, the driver the job already uses,
//     else exec when a ready node has it healthy, else raw_exec (the
//     fallback for clients where exec cannot run: not root, no cgroups).
//   - type "service"; one task group per process type, named after it,
//     count = quantity. A type missing from the Deployment loses its group
//     (Nomad stops its dynos); a Deployment with no types purges the job.
//   - the slug as an artifact from Deployment.Slug.URL with
//     checksum=sha256:<hex> from Slug.Digest, unpacked into local/app.
//   - env: the config vars (Nomad-interpolated values passed verbatim as
//     for the Runtime), PATH, PORT="${NOMAD_PORT_http}" for web, and DYNO
//     = <type>.<NOMAD_ALLOC_INDEX+1> set by the bootstrap (Nomad gives a
//     replacement the index of the allocation it replaces, so web.1 stays
//     web.1).
//   - web: a dynamic port labelled "http" and a service
//     (provider "nomad", name JobPrefix+app+"-web") with a TCP check, or an
//     HTTP check of Scheduler.HealthCheckPath.
//   - kill_signal SIGTERM, kill_timeout Deployment.Grace (default 30 s);
//     memory and cpu from ProcessSpec.Resources as for the Runtime; group meta
//     records the release and command (read back by Dynos), so a new
//     release replaces every dyno even when nothing else changed.
//
// Scale re-registers the job with one group's count changed, conditional
// on the job's modify index (Nomad's scale endpoint refuses while a
// deployment is rolling). Delete purges the job. Restart uses the
// allocation restart API (in place: same allocation, same port; not
// counted as a crash). FollowLogs follows every allocation of the job from
// its first byte, as allocations appear. WebBackends reads the service's
// registrations (/v1/service/<name>), keeps those of live allocations whose
// checks pass, and returns router.Dyno values for router.SetBackends;
// FeedRouter keeps a router's table current by polling it.
//
// # Scheduler one-offs
//
// RunOneOff (formation.OneOffRunner) runs heroku run and the release phase
// on the same cluster: a batch job "<job ID>-run-N" through the per-dyno
// Runtime, with the app's driver, the Deployment's slug as an artifact and
// its config vars, DYNO=run.N. It is never restarted, reports the command's
// exit status, and its job is purged when it ends. OneOffSpec.Stdin is
// attached as for the Runtime: the task connects back to this process
// (Scheduler.StdinAddr) for it.
//
// # Scheduler states
//
// Dynos lists the allocations Nomad means to run (desired status "run",
// not a failed one already replaced), named from the allocation index:
//
//   - pending, task not started yet: starting
//   - running, task running: up (web: once its checks pass, else starting)
//   - task pending again after a crash (Nomad's "Restarting"): crashed,
//     RestartAt = the event time plus Nomad's start delay
//   - client status failed or lost, or task dead: crashed
//   - client status complete: down
//
// Addr is the node address and the allocated "http" port.
//
// # Scheduler policies
//
// Heroku restarts a crashed dyno at once, and restarts it again, if it
// crashes again, after a cool-off of up to 20 minutes. DefaultRestart maps that onto
// Nomad's restart stanza: attempts 1, delay 0, interval 20 min, mode
// "delay" (once the attempts of an interval are used, Nomad waits for the
// interval to end, then the count starts over). Heroku's longer back-off
// for dynos crashing for hours has no Nomad equivalent (the interval is
// fixed). Nomad's 25 % jitter applies to a non-zero delay.
// DefaultReschedule (unlimited, 30 s exponential up to 1 h) covers what
// the client cannot restart in place: lost nodes and failed allocations.
// DefaultUpdate makes a new release a rolling deploy, one dyno per type at
// a time, each healthy (checks passing, or task running for types without
// a service) for 10 s, without auto-revert; set Scheduler.UpdateStrategy
// with MaxParallel = the quantity for Heroku's restart-all. All three can
// be replaced per Scheduler.
//
// # Testing
//
// The tests start one Nomad dev agent per test binary (package nomadtest:
// server and client in one process on free loopback ports with raw_exec
// enabled), from $DYNOKIT_NOMAD or the binary scripts/install-nomad builds
// (Nomad 1.10.5 from the Go module proxy); without one they are skipped
// unless DYNOKIT_TEST_REQUIRE=1. They run the formationtest conformance
// suites for both modes (formationtest.Run for the Runtime,
// formationtest.TestScheduler for the Scheduler, whose dynos run this test
// binary from a slug served by slug.Handler), the Reconciler with the
// Runtime (deploy, route through the router, scale down, a crash restarted,
// stop), the slug as a checksummed artifact, and the Scheduler feeding a
// real router from service registrations, logs through FollowLogs and
// Restart. examples/minipaas -runtime nomad is tested end to end (git push,
// request through the router, logs) in that package.
//
// # What is left
//
//   - exec as the Runtime's default, and in the conformance suites. The
//     Scheduler prefers exec when Driver is empty, and exec works
//     (TestSchedulerExecDriver), but a web dyno took 25 s from Apply to up
//     with exec against 0.9 s with raw_exec on this 2-core test machine
//     (BenchmarkSchedulerWebUp: the client builds a chroot per
//     allocation); Nomad's artifact getter also refuses a slug with no
//     files ("empty archive"). The conformance suites run against raw_exec.
//   - Logs into logplex directly: FollowLogs and the Runtime deliver to
//     writers the platform supplies (minipaas sends them to logplex).
//   - The Scheduler in examples/minipaas: its platform drives a Runtime
//     through the Reconciler, so -runtime nomad uses the per-dyno Runtime.
//   - Output after an in-place restart (Scheduler.Restart, and Nomad's own
//     crash restarts) can be lost by Nomad 1.10.5 itself: when the task is
//     restarted before its log collector (logmon) has read EOF from the old
//     task's pipe, logmon keeps the old pipe and never copies the new
//     task's output to the alloc's log files (seen by reading the files
//     directly, and reproduced by pausing logmon around a restart). A
//     sidecar task holding the pipes open, or dynos writing their own log
//     files, would avoid it; neither is done. The tests tell this loss
//     apart from one of ours.
//   - FeedRouter polls: check results move no index a blocking query could
//     wait on. Heroku's escalating back-off past 20 minutes, and R10/R14
//     style events for Scheduler dynos, have no counterpart yet.
package nomad
