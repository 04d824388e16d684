package kubernetes_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/kubernetes"
)

// runOneOff starts a one-off of d and returns it with its pod.
func runOneOff(t *testing.T, s *kubernetes.Scheduler, d formation.Deployment, spec formation.OneOffSpec, stdio formation.Stdio) (*kubernetes.OneOff, *corev1.Pod) {
	t.Helper()
	dyno, err := s.RunOneOff(ctxT(t), d, spec, stdio)
	if err != nil {
		t.Fatalf("RunOneOff: %v", err)
	}
	o := dyno.(*kubernetes.OneOff)
	t.Cleanup(func() {
		// Never leave the monitor running: end the dyno if a test did not.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		o.Signal(ctx, syscall.SIGKILL)
		o.Wait(ctx)
	})
	pod, err := s.Client.CoreV1().Pods(s.Namespace).Get(ctxT(t), o.ID(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return o, pod
}

// kubeletStatus sets the pod's status as a kubelet would.
func kubeletStatus(t *testing.T, s *kubernetes.Scheduler, pod string, status corev1.PodStatus) {
	t.Helper()
	ctx := ctxT(t)
	p, err := s.Client.CoreV1().Pods(s.Namespace).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status = status
	if _, err := s.Client.CoreV1().Pods(s.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// bind assigns the pod to a node, as the scheduler would; deleting it is
// then graceful, finished by the kubelet.
func bind(t *testing.T, s *kubernetes.Scheduler, pod, node string) {
	t.Helper()
	b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: pod}, Target: corev1.ObjectReference{Kind: "Node", Name: node}}
	if err := s.Client.CoreV1().Pods(s.Namespace).Bind(ctxT(t), b, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func oneOffRunning() corev1.PodStatus {
	return corev1.PodStatus{
		Phase:     corev1.PodRunning,
		StartTime: &metav1.Time{Time: t0},
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: "dyno", Image: testImage,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Time{Time: t1}}},
		}},
	}
}

func oneOffExited(code int32, reason string) corev1.PodStatus {
	phase := corev1.PodFailed
	if code == 0 {
		phase = corev1.PodSucceeded
	}
	return corev1.PodStatus{
		Phase:     phase,
		StartTime: &metav1.Time{Time: t0},
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: "dyno", Image: testImage,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: code, Reason: reason, StartedAt: metav1.Time{Time: t1}, FinishedAt: metav1.Time{Time: t2},
			}},
		}},
	}
}

func wait(t *testing.T, o formation.Dyno) formation.Exit {
	t.Helper()
	exit, err := o.Wait(ctxT(t))
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return exit
}

func assertGone(t *testing.T, s *kubernetes.Scheduler, pod string) {
	t.Helper()
	_, err := s.Client.CoreV1().Pods(s.Namespace).Get(ctxT(t), pod, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("pod %s after the one-off ended: %v, want NotFound", pod, err)
	}
}

// TestOneOffPod reads back the one-off's pod: the fields dynokit sets
// against a golden file, and the intent spelled out. The release phase
// runs before Apply, so RunOneOff creates the release's Secret itself,
// the one Apply then uses.
func TestOneOffPod(t *testing.T) {
	c, s := newScheduler(t)
	c.needLocal(t)
	s.OneOffDeadline = 90*time.Minute + time.Millisecond
	d := shop("shop", 3, "hi")
	o, pod := runOneOff(t, s, d, formation.OneOffSpec{Command: "rake db:migrate"}, formation.Stdio{})

	n := strings.TrimPrefix(pod.Name, "shop-run-")
	if !regexp.MustCompile(`^[1-9][0-9]{3}$`).MatchString(n) {
		t.Fatalf("pod name %q, want shop-run-<4 digits>", pod.Name)
	}
	if o.ID() != pod.Name || o.Name() != "run."+n {
		t.Errorf("ID %q, Name %q; want %q, run.%s", o.ID(), o.Name(), pod.Name, n)
	}
	// The fields dynokit owns: Create's managed-fields entry, read as
	// server-side apply's extraction reads its own. Unlike an apply's, it
	// also holds the defaults the server filled in on create
	// (imagePullPolicy, dnsPolicy, ...).
	p := pod.DeepCopy()
	for i := range p.ManagedFields {
		if p.ManagedFields[i].Manager == kubernetes.FieldManager {
			p.ManagedFields[i].Operation = metav1.ManagedFieldsOperationApply
		}
	}
	ac, err := corev1ac.ExtractPod(p, kubernetes.FieldManager)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(ac)
	b = []byte(strings.ReplaceAll(string(b), n, "NNNN")) // the random N
	var m map[string]any
	json.Unmarshal(b, &m)
	delete(m["metadata"].(map[string]any), "namespace")
	golden(t, "pod-run", m)

	spec := pod.Spec
	ctr := spec.Containers[0]
	if spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %s, want Never", spec.RestartPolicy)
	}
	if spec.ActiveDeadlineSeconds == nil || *spec.ActiveDeadlineSeconds != 5401 {
		t.Errorf("activeDeadlineSeconds %v, want 5401 (90 min rounded up)", spec.ActiveDeadlineSeconds)
	}
	if *spec.TerminationGracePeriodSeconds != 45 {
		t.Errorf("terminationGracePeriodSeconds %d, want 45", *spec.TerminationGracePeriodSeconds)
	}
	wantLabels := map[string]string{
		"app.kubernetes.io/name": "shop", "app.kubernetes.io/managed-by": "dynokit",
		kubernetes.LabelApp: "shop", kubernetes.LabelType: "run", kubernetes.LabelRelease: "3",
	}
	if diff := cmp.Diff(wantLabels, pod.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{kubernetes.DefaultRunner, "--", "rake db:migrate"}, append(ctr.Command, ctr.Args...)); diff != "" {
		t.Errorf("command (-want +got):\n%s", diff)
	}
	env := map[string]string{}
	for _, e := range ctr.Env {
		if e.ValueFrom != nil {
			env[e.Name] = "fieldRef:" + e.ValueFrom.FieldRef.FieldPath
			continue
		}
		env[e.Name] = e.Value
	}
	if diff := cmp.Diff(map[string]string{
		"SLUG_URL": "http://slugs.internal:8080/slugs/9f86d081", "SLUG_DIGEST": testDigest,
		"DYNOKIT_PROCESS_TYPE": "run", "DYNOKIT_POD_NAME": "fieldRef:metadata.name", "DYNO": "run." + n,
	}, env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	if len(ctr.Resources.Limits) != 0 || len(ctr.Ports) != 0 || ctr.ReadinessProbe != nil {
		t.Errorf("one-off container has limits %v, ports %v or a probe", ctr.Resources.Limits, ctr.Ports)
	}
	if *spec.AutomountServiceAccountToken || *spec.EnableServiceLinks {
		t.Error("service account token or service links enabled")
	}

	// The Secret it reads is the release's, which Apply then shares.
	secrets := secretNames(t, s, "shop")
	if len(secrets) != 1 || ctr.EnvFrom[0].SecretRef.Name != secrets[0] {
		t.Fatalf("secrets %v, pod reads %q", secrets, ctr.EnvFrom[0].SecretRef.Name)
	}
	apply(t, s, d)
	if got := envFromSecret(getDeployment(t, s, "shop", "web")); got != secrets[0] {
		t.Errorf("Apply's Deployments use secret %q, the one-off %q", got, secrets[0])
	}
	// It is a dyno of the app like the others.
	dynos, err := s.Dynos(ctxT(t), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if len(dynos) != 1 || dynos[0].Name != o.Name() || dynos[0].Type != "run" || dynos[0].Command != "rake db:migrate" {
		t.Errorf("Dynos = %+v, want the one-off %s", dynos, o.Name())
	}

	if _, err := s.RunOneOff(ctxT(t), d, formation.OneOffSpec{}, formation.Stdio{}); err == nil {
		t.Error("RunOneOff with an empty command succeeded")
	}
	if _, err := s.RunOneOff(ctxT(t), d, formation.OneOffSpec{Command: "x", Resources: formation.Resources{CPUShares: -1}}, formation.Stdio{}); err == nil || !strings.Contains(err.Error(), "Resources.CPUShares -1 must not be negative") {
		t.Errorf("RunOneOff with negative CPU shares: %v", err)
	}
	if _, err := s.RunOneOff(ctxT(t), d, formation.OneOffSpec{Command: "bash", Terminal: &formation.Terminal{}}, formation.Stdio{}); err == nil || !strings.Contains(err.Error(), "OneOffSpec.Stdin") {
		t.Errorf("RunOneOff on a terminal without stdin: %v, want an error naming OneOffSpec.Stdin", err)
	}
	if _, err := s.RunOneOff(ctxT(t), d, formation.OneOffSpec{Command: "bash", Stdin: strings.NewReader(""), Terminal: &formation.Terminal{Cols: -1}}, formation.Stdio{}); err == nil || !strings.Contains(err.Error(), "0–65535") {
		t.Errorf("RunOneOff on a terminal of -1 columns: %v, want a size error", err)
	}
	noConfig := *s
	noConfig.Config = nil
	if _, err := noConfig.RunOneOff(ctxT(t), d, formation.OneOffSpec{Command: "bash", Stdin: strings.NewReader("ls\n")}, formation.Stdio{}); err == nil || !strings.Contains(err.Error(), "Scheduler.Config") {
		t.Errorf("RunOneOff with stdin and no Config: %v, want an error naming Scheduler.Config", err)
	}
	if ctr.Stdin || ctr.StdinOnce || ctr.TTY {
		t.Errorf("detached one-off's container has stdin %v, stdinOnce %v, tty %v; want none", ctr.Stdin, ctr.StdinOnce, ctr.TTY)
	}
}

// TestOneOffExit: Wait maps the container's terminated state to Exit, and
// the pod is deleted once the one-off has ended.
func TestOneOffExit(t *testing.T) {
	c, s := newScheduler(t)
	c.needLocal(t)
	for _, tc := range []struct {
		name   string
		status corev1.PodStatus
		want   formation.Exit
	}{
		{"success", oneOffExited(0, "Completed"), formation.Exit{Code: 0, At: t2}},
		{"exit 3", oneOffExited(3, "Error"), formation.Exit{Code: 3, At: t2}},
		{"out of memory", oneOffExited(137, "OOMKilled"), formation.Exit{Code: 137, Signal: syscall.SIGKILL, OOMKilled: true, At: t2}},
		{"SIGTERM", oneOffExited(143, "Error"), formation.Exit{Code: 143, Signal: syscall.SIGTERM, At: t2}},
		{"evicted before starting", corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"},
			formation.Exit{Code: 137, Signal: syscall.SIGKILL}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, pod := runOneOff(t, s, shop("shop", 1, "hi"), formation.OneOffSpec{Command: "bin/task"}, formation.Stdio{})
			if tc.status.ContainerStatuses != nil {
				kubeletStatus(t, s, pod.Name, oneOffRunning())
				if err := o.Signal(ctxT(t), syscall.SIGUSR1); err == nil || !strings.Contains(err.Error(), "cannot deliver") || errors.Is(err, formation.ErrExited) {
					t.Errorf("Signal(SIGUSR1) = %v, want an error saying Kubernetes cannot deliver it", err)
				}
			}
			kubeletStatus(t, s, pod.Name, tc.status)
			exit := wait(t, o)
			if again := wait(t, o); again != exit {
				t.Errorf("second Wait %v, first %v", again, exit)
			}
			if tc.want.At.IsZero() {
				if time.Since(exit.At) > time.Minute {
					t.Errorf("At %v, want about now", exit.At)
				}
				exit.At = time.Time{}
			}
			if diff := cmp.Diff(tc.want, exit, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
				t.Errorf("Exit (-want +got):\n%s", diff)
			}
			assertGone(t, s, pod.Name)
			if err := o.Signal(ctxT(t), syscall.SIGTERM); !errors.Is(err, formation.ErrExited) {
				t.Errorf("Signal after exit = %v, want ErrExited", err)
			}
		})
	}
}

// waitPod polls the pod until ok accepts it.
func waitPod(t *testing.T, s *kubernetes.Scheduler, name string, ok func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		p, err := s.Client.CoreV1().Pods(s.Namespace).Get(ctxT(t), name, metav1.GetOptions{})
		if err == nil && ok(p) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s: %v, %+v", name, err, p)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOneOffStop: SIGTERM deletes the pod with the Deployment's grace
// period, Stop with its own; the kubelet (the test) then reports the
// container's end and removes the pod, and Stop returns that Exit.
func TestOneOffStop(t *testing.T) {
	c, s := newScheduler(t)
	c.needLocal(t)
	o, pod := runOneOff(t, s, shop("shop", 1, "hi"), formation.OneOffSpec{Command: "bin/console"}, formation.Stdio{})
	bind(t, s, pod.Name, "node-"+s.Namespace)
	kubeletStatus(t, s, pod.Name, oneOffRunning())

	graceIs := func(n int64) func(*corev1.Pod) bool {
		return func(p *corev1.Pod) bool {
			return p.DeletionGracePeriodSeconds != nil && *p.DeletionGracePeriodSeconds == n
		}
	}
	if err := o.Signal(ctxT(t), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitPod(t, s, pod.Name, graceIs(45))

	type result struct {
		exit formation.Exit
		err  error
	}
	stopped := make(chan result, 1)
	go func() {
		exit, err := formation.Stop(ctxT(t), o, 7*time.Second)
		stopped <- result{exit, err}
	}()
	waitPod(t, s, pod.Name, graceIs(7))
	select {
	case r := <-stopped:
		t.Fatalf("Stop returned %v, %v before the container ended", r.exit, r.err)
	default:
	}
	// The kubelet: SIGTERM ended the container; the pod is removed.
	kubeletStatus(t, s, pod.Name, oneOffExited(143, "Error"))
	zero := int64(0)
	if err := s.Client.CoreV1().Pods(s.Namespace).Delete(ctxT(t), pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	r := <-stopped
	if r.err != nil {
		t.Fatal(r.err)
	}
	if want := (formation.Exit{Code: 143, Signal: syscall.SIGTERM, At: t2}); !r.exit.At.Equal(want.At) || r.exit.Code != want.Code || r.exit.Signal != want.Signal {
		t.Errorf("Stop = %+v, want %+v", r.exit, want)
	}
	assertGone(t, s, pod.Name)
}

// TestOneOffKill: SIGKILL removes the pod at once, so no terminated state
// is ever reported: the one-off counts as killed.
func TestOneOffKill(t *testing.T) {
	c, s := newScheduler(t)
	c.needLocal(t)
	o, pod := runOneOff(t, s, shop("shop", 1, "hi"), formation.OneOffSpec{Command: "bin/console"}, formation.Stdio{})
	bind(t, s, pod.Name, "node-"+s.Namespace)
	kubeletStatus(t, s, pod.Name, oneOffRunning())
	if err := o.Signal(ctxT(t), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	exit := wait(t, o)
	if exit.Code != 137 || exit.Signal != syscall.SIGKILL || exit.OOMKilled {
		t.Errorf("Exit after SIGKILL %+v, want 137 SIGKILL", exit)
	}
	assertGone(t, s, pod.Name)
	if err := o.Signal(ctxT(t), syscall.SIGKILL); !errors.Is(err, formation.ErrExited) {
		t.Errorf("Signal after exit = %v, want ErrExited", err)
	}
}

// TestDeleteRemovesOneOffs: Delete(app) removes the app's running one-off
// pods (no controller would), not other apps'.
func TestDeleteRemovesOneOffs(t *testing.T) {
	c, s := newScheduler(t)
	c.needLocal(t)
	apply(t, s, shop("shop", 1, "hi"))
	o, pod := runOneOff(t, s, shop("shop", 1, "hi"), formation.OneOffSpec{Command: "bin/console"}, formation.Stdio{})
	blog, blogPod := runOneOff(t, s, shop("blog", 1, "hi"), formation.OneOffSpec{Command: "bin/console"}, formation.Stdio{})
	kubeletStatus(t, s, pod.Name, oneOffRunning())
	if err := s.Delete(ctxT(t), "shop"); err != nil {
		t.Fatal(err)
	}
	if exit := wait(t, o); exit.Signal != syscall.SIGKILL {
		t.Errorf("one-off deleted with its app: Exit %+v, want killed", exit)
	}
	assertGone(t, s, pod.Name)
	if _, err := s.Client.CoreV1().Pods(s.Namespace).Get(ctxT(t), blogPod.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("blog's one-off after deleting shop: %v", err)
	}
	if err := blog.Signal(ctxT(t), syscall.SIGKILL); err != nil {
		t.Error(err)
	}
}

// TestApplyKeepsOneOffSecret: Apply's garbage collection of old releases'
// Secrets spares those a one-off that has not ended reads, and drops them
// after it.
func TestApplyKeepsOneOffSecret(t *testing.T) {
	c, s := newScheduler(t)
	c.needLocal(t)
	apply(t, s, shop("shop", 1, "hi"))
	v1 := secretNames(t, s, "shop")
	// heroku run on release 1 with a config var Apply never saw.
	d := shop("shop", 1, "hi")
	d.Env = append(d.Env, "DEBUG=1")
	o, pod := runOneOff(t, s, d, formation.OneOffSpec{Command: "bin/console"}, formation.Stdio{})
	runSecret := pod.Spec.Containers[0].EnvFrom[0].SecretRef.Name
	kubeletStatus(t, s, pod.Name, oneOffRunning())
	apply(t, s, shop("shop", 2, "hi"))
	apply(t, s, shop("shop", 3, "hi"))
	got := secretNames(t, s, "shop")
	if !contains(got, runSecret) {
		t.Errorf("secrets after two releases %v: the running one-off's %s was deleted", got, runSecret)
	}
	if contains(got, v1[0]) {
		t.Errorf("secrets after two releases %v still hold release 1's %s", got, v1[0])
	}
	kubeletStatus(t, s, pod.Name, oneOffExited(0, "Completed"))
	wait(t, o)
	apply(t, s, shop("shop", 4, "hi"))
	if got := secretNames(t, s, "shop"); contains(got, runSecret) || len(got) != 2 {
		t.Errorf("secrets after the one-off ended and another release: %v, want release 3's and 4's", got)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestOneOffLogs: the one-off's output comes through the API server's pod
// log API (a kubelet endpoint of the test's) once its container runs, and
// Wait returns only after the whole log, including lines the followed
// stream missed before the container ended, has been written.
func TestOneOffLogs(t *testing.T) {
	c, s := newScheduler(t)
	c.needLocal(t)
	base := time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)
	line := func(ms int, text string) string {
		return base.Add(time.Duration(ms)*time.Millisecond).Format(time.RFC3339Nano) + " " + text + "\n"
	}
	exited := make(chan struct{})
	requests := make(chan string, 20)
	kubelet := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/containerLogs/"+s.Namespace+"/shop-run-") || !strings.HasSuffix(r.URL.Path, "/dyno") {
			http.NotFound(w, r)
			return
		}
		select {
		case requests <- r.URL.RawQuery:
		default: // only the first is looked at
		}
		fmt.Fprint(w, line(100, "Running migrations"), line(200, "== CreateUsers: migrated"))
		select {
		case <-exited:
			// The stream was cut just before the last line.
			fmt.Fprint(w, line(300, "done"))
			return
		default:
		}
		w.(http.Flusher).Flush()
		select {
		case <-exited:
		case <-r.Context().Done():
		}
	}))
	defer kubelet.Close()
	node := fakeNode(t, s, kubelet)

	out := &syncBuffer{}
	o, pod := runOneOff(t, s, shop("shop", 1, "hi"), formation.OneOffSpec{Command: "rake db:migrate"}, formation.Stdio{Stdout: out})
	bind(t, s, pod.Name, node)
	kubeletStatus(t, s, pod.Name, oneOffRunning())
	select {
	case q := <-requests:
		if !strings.Contains(q, "follow=true") || !strings.Contains(q, "timestamps=true") {
			t.Errorf("first log request %q lacks follow and timestamps", q)
		}
	case <-time.After(time.Minute):
		t.Fatal("the log was not asked for within a minute of the container starting")
	}
	deadline := time.Now().Add(time.Minute)
	for out.String() != "Running migrations\n== CreateUsers: migrated\n" {
		if time.Now().After(deadline) {
			t.Fatalf("output %q before the exit", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(exited)
	kubeletStatus(t, s, pod.Name, oneOffExited(0, "Completed"))
	wait(t, o)
	if want := "Running migrations\n== CreateUsers: migrated\ndone\n"; out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	assertGone(t, s, pod.Name)
}

// TestOneOffRestoresSecret: when the kubelet cannot find the one-off's
// Secret (an Apply deleted it while the pod was being created), the
// one-off applies it again.
func TestOneOffRestoresSecret(t *testing.T) {
	c, s := newScheduler(t)
	c.needLocal(t)
	_, pod := runOneOff(t, s, shop("shop", 1, "hi"), formation.OneOffSpec{Command: "bin/console"}, formation.Stdio{})
	secret := pod.Spec.Containers[0].EnvFrom[0].SecretRef.Name
	secrets := s.Client.CoreV1().Secrets(s.Namespace)
	if err := secrets.Delete(ctxT(t), secret, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	kubeletStatus(t, s, pod.Name, corev1.PodStatus{
		Phase: corev1.PodPending,
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: "dyno", Image: testImage,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
				Reason: "CreateContainerConfigError", Message: fmt.Sprintf("secret %q not found", secret),
			}},
		}},
	})
	deadline := time.Now().Add(time.Minute)
	for {
		sec, err := secrets.Get(ctxT(t), secret, metav1.GetOptions{})
		if err == nil {
			if string(sec.Data["GREETING"]) != "hi" {
				t.Errorf("restored secret data %v", sec.Data)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("secret %s not restored within a minute: %v", secret, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
