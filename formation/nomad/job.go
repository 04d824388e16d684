package nomad

import (
	"cmp"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dynokit/dynokit/formation"
)

// The job types below are the JSON form of a Nomad job (POST /v1/jobs),
// limited to what a dyno uses.

// Job is a Nomad job as this package registers it.
type Job struct {
	ID          string
	Name        string
	Type        string
	Datacenters []string
	Namespace   string            `json:",omitempty"`
	Region      string            `json:",omitempty"`
	Meta        map[string]string `json:",omitempty"`
	TaskGroups  []*TaskGroup
}

// TaskGroup is a job's task group.
type TaskGroup struct {
	Name             string
	Count            int
	RestartPolicy    *RestartPolicy
	ReschedulePolicy *ReschedulePolicy
	Update           *UpdateStrategy   `json:",omitempty"`
	Networks         []*Network        `json:",omitempty"`
	Services         []*Service        `json:",omitempty"`
	Meta             map[string]string `json:",omitempty"`
	Tasks            []*Task
}

// RestartPolicy is what the Nomad client does when a task exits.
type RestartPolicy struct {
	Attempts int
	Interval time.Duration
	Delay    time.Duration
	Mode     string
}

// ReschedulePolicy is what the Nomad servers do when an allocation fails
// (its restarts are exhausted in mode "fail", or its node is lost): place a
// replacement, on another node if one fits, after Delay growing by
// DelayFunction ("constant", "exponential", "fibonacci") up to MaxDelay.
type ReschedulePolicy struct {
	Attempts      int
	Interval      time.Duration
	Unlimited     bool
	Delay         time.Duration `json:",omitempty"`
	DelayFunction string        `json:",omitempty"`
	MaxDelay      time.Duration `json:",omitempty"`
}

// UpdateStrategy is how Nomad replaces a group's allocations when the job
// changes (a rolling deploy): MaxParallel at a time, each healthy (its
// checks passing, or its task running when it has none) for MinHealthyTime
// before the next, within HealthyDeadline.
type UpdateStrategy struct {
	MaxParallel      int
	HealthCheck      string // "checks", "task_states" or "manual"
	MinHealthyTime   time.Duration
	HealthyDeadline  time.Duration
	ProgressDeadline time.Duration
	AutoRevert       bool
}

// Network reserves ports on the node.
type Network struct {
	ReservedPorts []Port `json:",omitempty"`
	DynamicPorts  []Port `json:",omitempty"`
}

// Port is a static port reservation (Value set) or a dynamic port Nomad
// picks (Value 0); the task sees it as NOMAD_PORT_<Label>.
type Port struct {
	Label string
	Value int `json:",omitempty"`
}

// Service is a Nomad service registration of a group's port.
type Service struct {
	Name      string
	PortLabel string
	Provider  string         // "nomad": Nomad's own service catalogue, no Consul
	Tags      []string       `json:",omitempty"`
	Checks    []ServiceCheck `json:",omitempty"`
}

// ServiceCheck is a health check Nomad's client runs against a service.
type ServiceCheck struct {
	Name     string
	Type     string // "http" or "tcp"
	Path     string `json:",omitempty"`
	Interval time.Duration
	Timeout  time.Duration
}

// Task is the dyno's process.
type Task struct {
	Name        string
	Driver      string
	Config      map[string]any
	Env         map[string]string
	Artifacts   []*Artifact `json:",omitempty"`
	KillTimeout time.Duration
	KillSignal  string
	Resources   *TaskResources
	LogConfig   *LogConfig
}

// Artifact is a file Nomad downloads into the task directory before start.
type Artifact struct {
	GetterSource  string
	GetterOptions map[string]string `json:",omitempty"`
	RelativeDest  string
}

// TaskResources are what the scheduler reserves for the task.
type TaskResources struct {
	CPU      int // MHz; also the task cgroup's cpu.shares
	MemoryMB int
}

// DefaultCPU is the MHz reserved for a dyno without Resources.CPUShares
// (Nomad has no unreserved tasks): a small reservation so dynos pack
// densely, at a tenth of a standard-1X's weight.
const DefaultCPU = 100

// taskCPU maps Resources.CPUShares onto Nomad's cpu (MHz) one to one:
// Nomad writes a task's MHz as its cgroup cpu.shares (v1; converted to
// cpu.weight on v2), so a dyno gets the weight it would get from the
// local and OCI runtimes, and reserves as many MHz of a node's capacity.
func taskCPU(res formation.Resources) int {
	if res.CPUShares <= 0 {
		return DefaultCPU
	}
	return int(min(res.CPUShares, 1<<30))
}

// LogConfig bounds the task's rotated log files on the client.
type LogConfig struct {
	MaxFiles      int
	MaxFileSizeMB int
}

// taskName is the one task of a dyno's job; the process type would be the
// natural name, but a fixed one keeps log and signal calls independent of it.
const taskName = "dyno"

// slugSource is how the job gets the slug.
type slugSource struct {
	dir      string // a path on the Nomad client (raw_exec on this host)
	url      string // an HTTP URL of the slug (Nomad downloads it as an artifact)
	checksum string // "sha256:<hex>" for the artifact
}

// stdinSource is where the dyno's bash reads its stdin from.
type stdinSource struct {
	addr  string // host:port; empty means /dev/null
	token string
}

// terminalArg is bootstrap's $5: COLSxROWS, or empty for no terminal.
func terminalArg(t *formation.Terminal) string {
	if t == nil {
		return ""
	}
	return strconv.Itoa(cmp.Or(t.Cols, 80)) + "x" + strconv.Itoa(cmp.Or(t.Rows, 24))
}

// buildJob turns a DynoSpec into the Nomad job that runs it.
func (r *Runtime) buildJob(spec formation.DynoSpec, slug slugSource, stdin stdinSource) *Job {
	env := map[string]string{"PATH": DefaultPath}
	for _, kv := range spec.Env { // later entries win, as in DynoSpec
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	if spec.Port != 0 {
		env["PORT"] = strconv.Itoa(spec.Port)
	}
	verbatim := splitVerbatim(env)

	memMB := r.DefaultMemoryMB
	if memMB <= 0 {
		memMB = 512
	}
	if b := spec.Resources.MemoryBytes; b > 0 {
		memMB = int((b + 1<<20 - 1) >> 20)
		if memMB < 10 { // Nomad's minimum
			memMB = 10
		}
	}
	kill := r.KillTimeout
	if kill <= 0 {
		kill = formation.DefaultGrace
	}

	task := &Task{
		Name:   taskName,
		Driver: r.driver(),
		Config: map[string]any{
			"command": r.shell(),
			// $0 names the dyno in bash's messages; the rest are read by
			// bootstrap and cleared before the command runs.
			"args": escapeArgs(append([]string{"-c", bootstrap, spec.Name, spec.Command, slug.dir, stdin.addr, stdin.token, terminalArg(spec.Terminal)}, verbatim...)),
		},
		Env:         env,
		KillTimeout: kill,
		KillSignal:  "SIGTERM",
		Resources:   &TaskResources{CPU: taskCPU(spec.Resources), MemoryMB: memMB},
		LogConfig:   &LogConfig{MaxFiles: 10, MaxFileSizeMB: 10},
	}
	if slug.url != "" {
		opts := map[string]string{"archive": "tar.gz"}
		if slug.checksum != "" {
			opts["checksum"] = slug.checksum
		}
		// The slug's entries are ./app/..., so it unpacks into local/app.
		task.Artifacts = []*Artifact{{GetterSource: slug.url, GetterOptions: opts, RelativeDest: "local/"}}
	}
	tg := &TaskGroup{
		Name:  "dyno",
		Count: 1,
		// The Reconciler owns restarts and their back-off: Nomad must run
		// the process once and report how it ended.
		RestartPolicy:    &RestartPolicy{Attempts: 0, Interval: 24 * time.Hour, Delay: 15 * time.Second, Mode: "fail"},
		ReschedulePolicy: &ReschedulePolicy{Attempts: 0, Interval: 24 * time.Hour, Unlimited: false},
		Tasks:            []*Task{task},
	}
	if spec.Port != 0 {
		// Reserving the port makes Nomad refuse to place two dynos that
		// want the same port on one node.
		tg.Networks = []*Network{{ReservedPorts: []Port{{Label: "web", Value: spec.Port}}}}
	}
	dcs := r.Datacenters
	if len(dcs) == 0 {
		dcs = []string{"*"}
	}
	meta := map[string]string{"dynokit.dyno": spec.Name}
	if spec.App != "" {
		meta["dynokit.app"] = spec.App
	}
	if spec.Type != "" {
		meta["dynokit.type"] = spec.Type
	}
	if spec.Release != 0 {
		meta["dynokit.release"] = fmt.Sprint(spec.Release)
	}
	if r.Owner != "" {
		meta[metaOwner] = r.Owner
	}
	return &Job{
		ID:          r.jobID(spec.ID),
		Name:        r.jobID(spec.ID),
		Type:        "batch", // one run; exit 0 is "complete", not a reason to restart
		Datacenters: dcs,
		Namespace:   r.Namespace,
		Region:      r.Region,
		Meta:        meta,
		TaskGroups:  []*TaskGroup{tg},
	}
}

// metaOwner is the job meta key holding Runtime.Owner.
const metaOwner = "dynokit.owner"

// splitVerbatim removes from env the values Nomad would interpolate and
// returns them as sorted KEY=VALUE pairs. Nomad replaces ${name} in env
// values with node attributes and other variables, with no escape; such
// values go to bootstrap as arguments (which can be escaped) and are
// exported there instead.
func splitVerbatim(env map[string]string) []string {
	var verbatim []string
	for k, v := range env {
		if nomadVarRe.MatchString(v) {
			verbatim = append(verbatim, k+"="+v)
			delete(env, k)
		}
	}
	sort.Strings(verbatim)
	return verbatim
}

// nomadVarRe is what Nomad's env interpolation replaces.
var nomadVarRe = regexp.MustCompile(`\$\{[a-zA-Z0-9_\-.]+\}`)

// escapeArgs protects task config strings from Nomad's HCL2 evaluation,
// which would read ${...} and %{...} as its own expressions.
func escapeArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		a = strings.ReplaceAll(a, "${", "$${")
		out[i] = strings.ReplaceAll(a, "%{", "%%{")
	}
	return out
}

// bootstrap runs as bash -c with $0 = dyno name, $1 = the command,
// $2 = a slug directory to copy (empty when Nomad unpacked the slug into
// local/app), $3 = host:port to read stdin from (empty: none), $4 = the
// token that claims that stdin and $5 = COLSxROWS of a terminal to run the
// command on (empty: none); further arguments are KEY=VALUE pairs to
// export (env values Nomad would otherwise interpolate).
//
// A terminal is util-linux script's pseudo-terminal: script relays stdin
// to it as keystrokes and its output to stdout, and exits as the command
// did (-e).
//
// It runs the command in a process group of its own and forwards the
// signals Nomad delivers (Nomad signals only the task's main process) to
// that whole group (on a terminal, to the session script made for the
// command), so a signal reaches grandchildren as the formation contract
// requires and a terminal dyno gets its grace period too. When the command ends, what is left of its group is
// killed and bash ends the same way the command did.
const bootstrap = `
__dynokit_cmd=$1 __dynokit_src=$2 __dynokit_in=$3 __dynokit_tok=$4 __dynokit_tty=$5
shift 5
for __dynokit_kv in "$@"; do export "$__dynokit_kv"; done
set --
__dynokit_app=$NOMAD_TASK_DIR/app
if [ -n "$__dynokit_src" ]; then
  mkdir -p "$__dynokit_app" && cp -a "$__dynokit_src/." "$__dynokit_app/" || { echo "dynokit: cannot copy the slug from $__dynokit_src" >&2; exit 1; }
fi
mkdir -p "$NOMAD_TASK_DIR/tmp"
export HOME=$__dynokit_app TMPDIR=$NOMAD_TASK_DIR/tmp
cd "$__dynokit_app" || exit 1
if [ -n "$__dynokit_in" ]; then
  exec 3<>"/dev/tcp/${__dynokit_in%:*}/${__dynokit_in##*:}" || { echo "dynokit: cannot connect stdin to $__dynokit_in" >&2; exit 1; }
  printf '%s\n' "$__dynokit_tok" >&3
  exec 0<&3 3<&-
else
  exec 0</dev/null
fi
for __dynokit_f in "$__dynokit_app"/.profile.d/*.sh; do
  if [ -r "$__dynokit_f" ]; then . "$__dynokit_f"; fi
done
if [ -r "$__dynokit_app/.profile" ]; then . "$__dynokit_app/.profile"; fi
unset __dynokit_f __dynokit_kv __dynokit_app __dynokit_src __dynokit_in __dynokit_tok
# Job control puts the command in a process group of its own, and it makes
# bash report the job's end ("[1]+ Done ...") on its stderr whenever it
# notices it first. That report must not reach the dyno's log: from here on
# bash's own stderr is /dev/null and only the command gets the real one.
exec 4>&2 2>/dev/null
set -m
if [ -n "$__dynokit_tty" ]; then
  __DYNOKIT_CMD=$__dynokit_cmd __DYNOKIT_TTY=$__dynokit_tty script -qefc 'stty cols "${__DYNOKIT_TTY%x*}" rows "${__DYNOKIT_TTY#*x}"; c=$__DYNOKIT_CMD; unset __DYNOKIT_CMD __DYNOKIT_TTY; exec bash -c "$c"' /dev/null <&0 2>&4 4>&- &
else
  bash -c "$__dynokit_cmd" <&0 2>&4 4>&- &
fi
__dynokit_pid=$!
set +m
exec 4>&-
__dynokit_onterm=${__dynokit_tty:+1}
unset __dynokit_tty
# On a terminal the command runs in script's child's session: a signal
# goes there, since script itself would kill that session at once.
__dynokit_signal() {
  __dynokit_g=$__dynokit_pid
  if [ -n "$__dynokit_onterm" ]; then
    read -r __dynokit_g _ <"/proc/$__dynokit_pid/task/$__dynokit_pid/children" 2>/dev/null
    [ -n "$__dynokit_g" ] || __dynokit_g=$__dynokit_pid
  fi
  kill -"$1" -- -"$__dynokit_g" 2>/dev/null
}
for __dynokit_s in HUP INT QUIT USR1 USR2 TERM ALRM; do
  trap "__dynokit_signal $__dynokit_s" $__dynokit_s
done
# wait returns early when a trapped signal arrives; bash keeps the status
# of a reaped job, so the last wait reports how the command ended.
while kill -0 "$__dynokit_pid" 2>/dev/null; do wait "$__dynokit_pid"; done
wait "$__dynokit_pid"
__dynokit_st=$?
kill -KILL -- -"$__dynokit_pid" 2>/dev/null
# raw_exec enforces the memory limit through the task's cgroup but does not
# report OOM kills; leave a mark in the alloc dir for the runtime to read.
[ "$__dynokit_st" = 137 ] && while IFS=: read -r _ __dynokit_ctl __dynokit_cg; do
  case $__dynokit_ctl in
  memory|*,memory|memory,*|*,memory,*) __dynokit_ev=/sys/fs/cgroup/memory$__dynokit_cg/memory.oom_control ;;
  '') __dynokit_ev=/sys/fs/cgroup$__dynokit_cg/memory.events ;;
  *) continue ;;
  esac
  [ -r "$__dynokit_ev" ] || continue
  while read -r __dynokit_k __dynokit_n; do
    if [ "$__dynokit_k" = oom_kill ] && [ "$__dynokit_n" -gt 0 ]; then : >"$NOMAD_ALLOC_DIR/dynokit-oom-killed"; fi
  done <"$__dynokit_ev"
done </proc/self/cgroup 2>/dev/null
if [ "$__dynokit_st" -gt 128 ] && [ "$__dynokit_st" -le 192 ]; then
  __dynokit_sig=$((__dynokit_st - 128))
  trap - $(kill -l "$__dynokit_sig" 2>/dev/null) 2>/dev/null
  kill -"$__dynokit_sig" $$ 2>/dev/null
fi
exit "$__dynokit_st"
`
