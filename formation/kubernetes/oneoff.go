package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/dynokit/dynokit/formation"
)

// OneOffType is the process type of one-off dynos: their pods are labelled
// dynokit.dev/type=run and their dynos are named "run.N".
const OneOffType = "run"

// oneOffLogGrace bounds the copying of a one-off's log after its container
// ended: the kubelet has the whole log by then, but a node that went away
// must not hold up Wait.
const oneOffLogGrace = 30 * time.Second

// OneOff is a one-off dyno running in a bare pod, as RunOneOff returns it.
// Its pod is deleted once it has ended (after its log has been copied), so
// nothing is left behind, as on Heroku.
type OneOff struct {
	s    *Scheduler
	app  string
	pod  string
	name string
	uid  k8stypes.UID

	// secret is the config-var Secret, applied again when the kubelet
	// cannot find it (an Apply deleted it as the pod was created).
	secret *corev1ac.SecretApplyConfiguration
	// stdin is OneOffSpec.Stdin: non-nil for an attached one-off.
	stdin io.Reader
	// terminal is OneOffSpec.Terminal: the container has a TTY of this
	// size, and the attach carries it.
	terminal *formation.Terminal

	done chan struct{} // closed once exit is set and the pod deleted
	exit formation.Exit
	gone bool // the pod was deleted (monitor's goroutine only)

	mu      sync.Mutex
	ended   bool          // the container terminated or the pod is gone
	endedCh chan struct{} // closed when ended becomes true
}

var _ formation.Stopper = (*OneOff)(nil)

// ID is the pod's name, "<app>-run-<N>".
func (o *OneOff) ID() string { return o.pod }

// Name is the dyno's name, "run.N" (DYNO in its environment).
func (o *OneOff) Name() string { return o.name }

// RunOneOff runs spec.Command as a one-off dyno of d's release (heroku run, or
// the release phase): a bare pod "<app>-run-<N>" with a random N from 1000
// to 9999 (another N when the name is taken), labelled like the app's
// other dyno pods with type "run", restartPolicy Never, DYNO "run.N", the
// same image, slugrunner, slug and config-var Secret as Apply's pods
// (RunOneOff applies the release's Secret itself, so the release phase can
// run before Apply), and activeDeadlineSeconds when OneOffDeadline is set.
// d.Processes is ignored; spec.Resources bound the container as they bound
// Apply's.
//
// It returns once the pod exists; ctx bounds only that. Detached (no
// spec.Stdin), the container's output is copied from the pod log API to
// stdio.Stdout once it starts (stdout and stderr interleaved, as the
// kubelet keeps them). Attached (heroku run: spec.Stdin set, which needs
// s.Config), the container has stdin and stdinOnce set, and once it runs
// the pod attach API streams spec.Stdin to it and its stdout and stderr
// to stdio's; the container's stdin closes when spec.Stdin returns EOF.
// What it writes before the attach is made is only in the pod log. The
// returned dyno's Wait reports how the container ended; the pod is
// deleted then.
// Stop deletes the pod with the grace period (Kubernetes's SIGTERM, then
// SIGKILL), and Delete removes running one-offs with the app.
func (s *Scheduler) RunOneOff(ctx context.Context, d formation.Deployment, spec formation.OneOffSpec, stdio formation.Stdio) (formation.Dyno, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if spec.Command == "" {
		return nil, fmt.Errorf("kubernetes: app %s: one-off: empty command", d.App)
	}
	if err := spec.Resources.Validate(); err != nil {
		return nil, fmt.Errorf("kubernetes: app %s: one-off: %w", d.App, err)
	}
	if spec.Terminal != nil {
		if err := spec.Terminal.Validate(); err != nil {
			return nil, fmt.Errorf("kubernetes: app %s: one-off: %w", d.App, err)
		}
		if spec.Stdin == nil {
			return nil, fmt.Errorf("kubernetes: app %s: one-off: a terminal needs OneOffSpec.Stdin (the attach carries it)", d.App)
		}
	}
	if spec.Stdin != nil && s.Config == nil {
		return nil, fmt.Errorf("kubernetes: app %s: one-off: attaching stdin needs Scheduler.Config (run it detached)", d.App)
	}
	data, err := configVars(d.Env)
	if err != nil {
		return nil, err
	}
	secret := secretName(d.App, d.Release, data)
	if err := s.ensureOurs(ctx, "secret", secret, d.App); err != nil {
		return nil, err
	}
	// The same immutable Secret as Apply's for these config vars: applying
	// it again writes nothing.
	if _, err := s.Client.CoreV1().Secrets(s.namespace()).Apply(ctx, s.secret(d, secret, data), applyOpts()); err != nil {
		return nil, fmt.Errorf("kubernetes: app %s: applying secret %s: %w", d.App, secret, err)
	}
	pods := s.Client.CoreV1().Pods(s.namespace())
	var created *corev1.Pod
	for attempt := 0; ; attempt++ {
		n := 1000 + rand.IntN(9000)
		podName := fmt.Sprintf("%s-%s-%d", d.App, OneOffType, n)
		pod, err := toPod(s.oneOffPod(d, podName, OneOffType+"."+strconv.Itoa(n), spec, secret))
		if err != nil {
			return nil, fmt.Errorf("kubernetes: app %s: one-off pod: %w", d.App, err)
		}
		// Create, not apply: a name in use belongs to another one-off,
		// which server-side apply would take over.
		created, err = pods.Create(ctx, pod, metav1.CreateOptions{FieldManager: FieldManager})
		if apierrors.IsAlreadyExists(err) && attempt < 10 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("kubernetes: app %s: creating one-off pod %s: %w", d.App, podName, err)
		}
		break
	}
	o := &OneOff{
		s: s, app: d.App, pod: created.Name, uid: created.UID,
		secret:   s.secret(d, secret, data),
		stdin:    spec.Stdin,
		terminal: spec.Terminal,
		name:     DynoName(OneOffType, created.Name),
		done:     make(chan struct{}),
		endedCh:  make(chan struct{}),
	}
	// The dyno outlives RunOneOff's ctx; it ends with the pod.
	go o.monitor(context.WithoutCancel(ctx), created, stdio)
	return o, nil
}

// toPod turns the apply configuration into the object Create takes: the
// two share their JSON form.
func toPod(ac *corev1ac.PodApplyConfiguration) (*corev1.Pod, error) {
	b, err := json.Marshal(ac)
	if err != nil {
		return nil, err
	}
	pod := &corev1.Pod{}
	if err := json.Unmarshal(b, pod); err != nil {
		return nil, err
	}
	return pod, nil
}

// Wait blocks until the one-off has ended, its log has been copied and
// its pod deleted, or ctx is done. The Exit comes from the container's
// terminated state: its exit code, the signal when the code is 128+n, and
// OOMKilled for the kubelet's reason "OOMKilled". A pod that disappeared
// (or failed) without reporting a terminated container counts as killed by
// SIGKILL.
func (o *OneOff) Wait(ctx context.Context) (formation.Exit, error) {
	select {
	case <-o.done:
		return o.exit, nil
	case <-ctx.Done():
		return formation.Exit{}, fmt.Errorf("kubernetes: wait %s: %w", o.name, ctx.Err())
	}
}

// Signal can deliver only what deleting the pod does: SIGTERM deletes it
// with its grace period (the Deployment's Grace), after which the kubelet
// sends SIGKILL; SIGKILL deletes it with grace 0. Other signals are an
// error. Once the container has ended or the pod is gone, it returns an
// error wrapping formation.ErrExited.
func (o *OneOff) Signal(ctx context.Context, sig syscall.Signal) error {
	var grace *int64
	switch sig {
	case syscall.SIGTERM:
	case syscall.SIGKILL:
		zero := int64(0)
		grace = &zero
	default:
		return fmt.Errorf("kubernetes: one-off %s: Kubernetes cannot deliver %s to a pod, only SIGTERM and SIGKILL (by deleting it)", o.name, unix.SignalName(sig))
	}
	return o.delete(ctx, grace)
}

// Stop deletes the pod with grace as its grace period (the kubelet sends
// SIGTERM, then SIGKILL after grace; rounded up to whole seconds; 0 means
// the pod's own) and waits for the dyno to end.
func (o *OneOff) Stop(ctx context.Context, grace time.Duration) (formation.Exit, error) {
	var secs *int64
	if grace > 0 {
		n := int64((grace + time.Second - 1) / time.Second)
		secs = &n
	}
	if err := o.delete(ctx, secs); err != nil && !errors.Is(err, formation.ErrExited) {
		return formation.Exit{}, fmt.Errorf("kubernetes: stop %s: %w", o.name, err)
	}
	return o.Wait(ctx)
}

func (o *OneOff) delete(ctx context.Context, grace *int64) error {
	if o.hasEnded() {
		return fmt.Errorf("kubernetes: one-off %s: %w", o.name, formation.ErrExited)
	}
	err := o.s.Client.CoreV1().Pods(o.s.namespace()).Delete(ctx, o.pod, metav1.DeleteOptions{
		GracePeriodSeconds: grace,
		// Never another one-off that got the same name later.
		Preconditions: metav1.NewUIDPreconditions(string(o.uid)),
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return fmt.Errorf("kubernetes: one-off %s: %w", o.name, formation.ErrExited)
	}
	if err != nil {
		return fmt.Errorf("kubernetes: one-off %s: deleting pod %s: %w", o.name, o.pod, err)
	}
	return nil
}

func (o *OneOff) hasEnded() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.ended
}

func (o *OneOff) setEnded() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.ended {
		o.ended = true
		close(o.endedCh)
	}
}

// monitor watches the pod until its container has terminated or the pod is
// gone, attaches to it or copies its log from when the container starts,
// then deletes the pod and sets the exit.
func (o *OneOff) monitor(ctx context.Context, pod *corev1.Pod, stdio formation.Stdio) {
	logCtx, cancelLogs := context.WithCancel(ctx)
	defer cancelLogs()
	logsDone := make(chan struct{})
	logging, restored := false, false
	var last *corev1.Pod // the last state seen
	observe := func(p *corev1.Pod, gone bool) bool {
		if p.UID != o.uid {
			// Another pod of the same name: ours is gone.
			o.gone = true
			o.setEnded()
			return true
		}
		last = p
		if !restored && missingConfig(p) {
			restored = o.restoreSecret(ctx)
		}
		if !logging && started(p) {
			logging = true
			// A container that already ended cannot be attached to; its
			// output is in the log.
			attach := o.stdin != nil && !terminated(p)
			go func() {
				defer close(logsDone)
				if attach {
					o.attach(logCtx, stdio)
				} else {
					o.copyLog(logCtx, nonNil(stdio.Stdout))
				}
			}()
		}
		if gone || terminated(p) {
			o.setEnded()
			return true
		}
		return false
	}
	o.watch(ctx, pod, observe)
	if logging {
		t := time.NewTimer(oneOffLogGrace)
		select {
		case <-logsDone:
		case <-t.C:
			cancelLogs()
			<-logsDone
		}
		t.Stop()
	}
	o.exit = exitOf(last, o.gone)
	if !o.gone {
		dctx, cancel := context.WithTimeout(ctx, time.Minute)
		err := o.s.Client.CoreV1().Pods(o.s.namespace()).Delete(dctx, o.pod, metav1.DeleteOptions{
			Preconditions: metav1.NewUIDPreconditions(string(o.uid)),
		})
		cancel()
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			o.s.logger().Warn("kubernetes: deleting ended one-off pod", "app", o.app, "pod", o.pod, "err", err)
		}
	}
	close(o.done)
}

// missingConfig reports a container the kubelet cannot create, which
// for a one-off may be its Secret gone.
func missingConfig(p *corev1.Pod) bool {
	cs := dynoStatus(p)
	return cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Reason == "CreateContainerConfigError"
}

// restoreSecret applies the one-off's Secret again; the kubelet retries
// creating the container and finds it. It reports success.
func (o *OneOff) restoreSecret(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	_, err := o.s.Client.CoreV1().Secrets(o.s.namespace()).Apply(ctx, o.secret, applyOpts())
	if err != nil {
		o.s.logger().Warn("kubernetes: restoring a one-off's config vars", "pod", o.pod, "err", err)
		return false
	}
	return true
}

// watch calls observe with every state of the pod, gone true with its last
// state once it is deleted, until observe returns true; it re-reads the
// pod when the watch ends.
func (o *OneOff) watch(ctx context.Context, pod *corev1.Pod, observe func(p *corev1.Pod, gone bool) bool) {
	pods := o.s.Client.CoreV1().Pods(o.s.namespace())
	if observe(pod, false) {
		return
	}
	rv := pod.ResourceVersion
	delay := time.Second
	for {
		if rv == "" {
			p, err := pods.Get(ctx, o.pod, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				o.gone = true
				observe(pod, true)
				return
			case err != nil:
				o.s.logger().Warn("kubernetes: reading one-off pod", "pod", o.pod, "err", err)
				sleep(ctx, &delay)
				continue
			}
			if observe(p, false) {
				return
			}
			pod, rv = p, p.ResourceVersion
		}
		timeout := int64(300)
		wt, err := pods.Watch(ctx, metav1.ListOptions{
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", o.pod).String(),
			ResourceVersion: rv,
			TimeoutSeconds:  &timeout,
		})
		if err != nil {
			o.s.logger().Warn("kubernetes: watching one-off pod", "pod", o.pod, "err", err)
			rv = ""
			sleep(ctx, &delay)
			continue
		}
		delay = time.Second
		for ev := range wt.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				rv = "" // a watch error (resource version too old): re-read
				break
			}
			gone := ev.Type == watch.Deleted
			o.gone = o.gone || gone
			pod, rv = p, p.ResourceVersion
			if observe(p, gone) {
				wt.Stop()
				return
			}
		}
		wt.Stop()
	}
}

// copyLog copies the container's log to w, following it while the
// container runs and reopening it from the last line seen when the stream
// ends early; once the container has ended it reads what is left and
// returns.
func (o *OneOff) copyLog(ctx context.Context, w io.Writer) {
	pods := o.s.Client.CoreV1().Pods(o.s.namespace())
	var last time.Time
	delay := time.Second
	for {
		final := o.hasEnded()
		opts := &corev1.PodLogOptions{Container: containerName, Follow: !final, Timestamps: true}
		if !last.IsZero() {
			opts.SinceTime = &metav1.Time{Time: last}
		}
		rc, err := pods.GetLogs(o.pod, opts).Stream(ctx)
		if err == nil {
			var n int
			last, n = copyLines(rc, w, last)
			rc.Close()
			if n > 0 {
				delay = time.Second
			}
		} else {
			o.s.logger().Debug("kubernetes: one-off log not available", "pod", o.pod, "err", err)
		}
		if final || ctx.Err() != nil {
			return
		}
		// The stream ended: the container did (then one last read picks up
		// what came after a cut), or the connection was cut.
		t := time.NewTimer(delay)
		select {
		case <-o.endedCh:
		case <-t.C:
			delay = min(delay*2, 10*time.Second)
		case <-ctx.Done():
		}
		t.Stop()
	}
}

// dynoStatus is the dyno container's status, nil when not reported yet.
func dynoStatus(p *corev1.Pod) *corev1.ContainerStatus {
	for i := range p.Status.ContainerStatuses {
		if p.Status.ContainerStatuses[i].Name == containerName {
			return &p.Status.ContainerStatuses[i]
		}
	}
	return nil
}

// started reports a container that has run: its log exists.
func started(p *corev1.Pod) bool {
	cs := dynoStatus(p)
	return cs != nil && (cs.State.Running != nil || cs.State.Terminated != nil)
}

// terminated reports a one-off that will not run (again): its container
// terminated (restartPolicy Never), or the pod failed or succeeded.
func terminated(p *corev1.Pod) bool {
	if cs := dynoStatus(p); cs != nil && cs.State.Terminated != nil {
		return true
	}
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// exitOf maps the last state of a one-off's pod to its Exit; gone reports
// a pod deleted before it ended by itself.
func exitOf(p *corev1.Pod, gone bool) formation.Exit {
	killed := formation.Exit{Code: 128 + int(syscall.SIGKILL), Signal: syscall.SIGKILL, At: time.Now()}
	cs := dynoStatus(p)
	if cs == nil || cs.State.Terminated == nil {
		if p.Status.Phase == corev1.PodSucceeded && !gone {
			return formation.Exit{At: time.Now()}
		}
		return killed
	}
	t := cs.State.Terminated
	e := formation.Exit{Code: int(t.ExitCode), OOMKilled: t.Reason == "OOMKilled", At: t.FinishedAt.Time}
	switch {
	case t.Signal != 0:
		e.Signal = syscall.Signal(t.Signal)
	case e.Code > 128 && e.Code < 128+65:
		e.Signal = syscall.Signal(e.Code - 128)
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	return e
}
