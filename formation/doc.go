// Package formation runs an app's dynos and keeps them at the scale the
// platform asks for.
//
// # Vocabulary
//
//   - A dyno is one running process tree of an app: a formation dyno named
//     after its process type and index ("web.1", "worker.2"), or a one-off
//     dyno named "run.NNNN" (heroku run), or "<type>.NNNN" for a one-off of
//     another type (OneOffRequest.Type: Heroku's "release.N" for the release
//     phase, "scheduler.N" for Scheduler jobs; DynoStatus.OneOff marks them
//     all). DYNO carries the name.
//   - A Runtime starts dynos (Runtime.Start → Dyno); a Dyno is signalled
//     and waited on. Backends: formation/local (process groups on this
//     host, the default), formation/oci (OCI containers) and
//     formation/nomad (a Nomad job per dyno). Stop is
//     Heroku's shutdown: SIGTERM to every process, a grace period
//     (DefaultGrace, 30 s), then SIGKILL. An attached one-off may run on
//     a pseudo-terminal (DynoSpec.Terminal, OneOffSpec.Terminal: heroku
//     run from a terminal); every backend here gives one, and a Runtime
//     that cannot answers ErrNoTerminal.
//   - A Formation is the desired state of one app: its release, the
//     quantity (and size) of each process type, and the Strategy used to
//     replace dynos when the release changes (RestartAll, Preboot, Rolling).
//   - An Instance is an observed dyno; Plan(desired, observed) is the pure
//     function returning the Actions (start, stop) between the two.
//   - The Reconciler owns the observed state: Set records a Formation, Run
//     converges and heals (events plus a periodic resync), and publishes
//     each dyno's life as Events worded as Heroku logs them. RenameApp
//     re-keys an app under a new name (heroku apps:rename).
//   - A Scheduler is the other seam, for engines that keep a formation
//     running by themselves (a Nomad job per app, Kubernetes Deployments):
//     it takes a whole Deployment (slug URL, config vars, command and
//     quantity per process type) and owns placement, replica counts and
//     restarts, so no Reconciler sits in front of it. Restarter,
//     LogFollower and OneOffRunner (heroku run, the release phase) are its
//     optional capabilities. Backends:
//     formation/nomad (Scheduler), formation/kubernetes (a nested module).
//   - formation/autoscale changes the web quantity by itself: an
//     Autoscaler reads the router's metrics and adds or removes a web
//     dyno per interval to hold a desired p95 response time.
//
// # Dyno lifecycle
//
// A formation dyno starts in state "starting". A dyno without a port is
// "up" once started; a web dyno (DynoSpec.Port set) is up when the
// Reconciler's ReadyFunc passes (by default its port accepts connections,
// and HealthCheckPath answers when set). A web dyno that is not up within
// BootTimeout (60 s) is killed (R10) and "crashed". Any exit of a formation
// dyno that was not asked to stop, status 0 included, is a crash: the first
// restarts at once, later ones after Backoff (HerokuBackoff: 20, 40, 60,
// 180, 320 minutes), and the count resets after HealthyAfter up, on a new
// release and on Restart. Stopped dynos go "down"; exited one-offs
// "complete" and are never restarted.
//
// A rename (Reconciler.RenameApp) neither stops nor restarts a dyno: the
// formation, every dyno (one-offs included) and its crash count move to
// the new name at once, later events and spec requests carry it, and the
// old name is free. Running dynos keep the environment they started with.
//
// The platform provides each dyno's spec through Reconciler.Spec (command
// from the release's process types, env from config vars plus PORT and
// DYNO, the slug directory), so formation imports no other dynokit
// package. Every web dyno needs its own port: the readiness check probes
// it, and during a deploy old and new dynos of a slot run side by side.
//
// # Events
//
// Reconciler.OnEvent receives every Event in order, under the Reconciler's
// lock (it must not block). State events carry Prev and State; a router
// adds Addr when a web dyno's State becomes up and removes it on any other
// state. Messages are Heroku's: "Starting process with command `...`",
// "State changed from starting to up", "Stopping all processes with
// SIGTERM", "Process exited with status 143", "Error R10 (Boot timeout)",
// "Error R12 (Exit timeout)", "Process running mem=600MB(117.2%)" then
// "Error R14 (Memory quota exceeded)" (from dynos implementing
// MemoryReader) and "Error R15 (Memory quota vastly
// exceeded)" (Exit.OOMKilled).
//
// # Running a process in a dyno
//
// Dynos whose runtime can run one more process inside a running dyno
// implement Execer (formation/local and formation/oci do), which
// Reconciler.Exec reaches by app and dyno name: heroku ps:exec. The
// process gets the dyno's environment, app directory, bootstrap and
// limits, optionally a terminal (ExecProcess.Resize follows the user's),
// and ends when the dyno does; it is neither logged nor restarted.
//
// # Resources
//
// DynoSpec.Resources (and ProcessSpec and OneOffSpec Resources for a
// Scheduler) bound a dyno; a zero field means no limit, a negative one is
// refused (Resources.Validate). MemoryBytes is a hard memory limit and PIDs
// a process count limit. CPUShares is a relative CPU weight, not a cap, in
// cgroup v1 cpu.shares units: CPUShareUnit (1024, the kernel's default
// weight) is one Heroku "1x" share, so a standard-1X gets 1024 and a
// standard-2X 2048; 0 leaves the backend's default. The unit is the one
// every engine already speaks or converts from:
//
//   - formation/local: cpu.shares in the dyno's cgroup (v1, clamped to
//     2-262144); on cgroup v2 cpu.weight, converted as runc 1.3.2+ and
//     crun 1.23+ convert (1024 is 100, the default weight). Without the
//     cpu controller the dyno runs without a weight and a warning.
//   - formation/oci: linux.resources.cpu.shares (WithCPUShares), which the
//     OCI runtime writes or converts the same way.
//   - formation/nomad: the task's cpu, one MHz per share. Nomad writes a
//     task's MHz as its cgroup cpu.shares, so the kernel weight is the
//     same; the MHz are also reserved against node capacity. Without
//     CPUShares a dyno reserves 100 MHz.
//   - formation/kubernetes: a CPU request of CPUShares x 1000/1024
//     millicores (1024 is one CPU), no limit; the kubelet turns a request
//     back into cpu.shares (milli x 1024/1000), the same weight again. The
//     request also reserves node allocatable.
//
// A weight only matters while the CPU is contended; an idle host lets any
// dyno use every core, as Heroku's shared sizes burst. Dedicated CPUs
// (performance sizes: cpusets, Nomad cores, the kubelet's static CPU
// manager) are not modelled.
//
// # Differences from the design notes
//
//   - There is no Store or Placer interface yet: desired state is set with
//     Reconciler.Set (the platform persists it), and one Runtime serves
//     every dyno. Both seams can be added without changing Plan.
//   - R14 is reported when usage reaches MemoryWarnFraction (0.9) of the
//     hard limit, because a cgroup limit never lets usage exceed the quota
//     the way Heroku's swap-backed dynos do; R15 is the kernel's OOM kill.
//     Every reading also goes to Reconciler.OnMemory (with the RSS, cache
//     and swap breakdown where the runtime knows it), from which a platform
//     can log Heroku's log-runtime-metrics samples.
//   - Preboot retires each old web dyno as soon as its replacement is up;
//     Heroku waits about three minutes after the deploy and then switches
//     all routing at once. Rolling is a dynokit addition (Heroku has none
//     for the Common Runtime).
//   - Daily cycling (Reconciler.Cycle) is off by default and applies to
//     formation dynos only; one-off lifetimes are the platform's to bound.
package formation
