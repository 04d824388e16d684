package kubernetes_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/kubernetes"
)

// Times as the API server keeps them: whole seconds.
var (
	t0 = time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)
	t1 = t0.Add(5 * time.Second)
	t2 = t0.Add(30 * time.Second)
)

// dynoPod is a pod as a ReplicaSet of the app's Deployment would create it,
// with the status a kubelet would report.
func dynoPod(app, typ, name string, status corev1.PodStatus) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			"app.kubernetes.io/managed-by": "dynokit",
			kubernetes.LabelApp:            app,
			kubernetes.LabelType:           typ,
			kubernetes.LabelRelease:        "1",
		}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "dyno", Image: testImage, Command: []string{kubernetes.DefaultRunner}, Args: []string{"--", "bin/" + typ},
		}}},
		Status: status,
	}
}

func running(ready bool) corev1.PodStatus {
	return corev1.PodStatus{
		Phase:     corev1.PodRunning,
		StartTime: &metav1.Time{Time: t0},
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: "dyno", Ready: ready, Image: testImage,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Time{Time: t1}}},
		}},
	}
}

func crashLooping() corev1.PodStatus {
	return corev1.PodStatus{
		Phase:     corev1.PodRunning,
		StartTime: &metav1.Time{Time: t0},
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: "dyno", Image: testImage, RestartCount: 3,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 3, StartedAt: metav1.Time{Time: t1}, FinishedAt: metav1.Time{Time: t2},
			}},
		}},
	}
}

// createPods creates pods by hand and sets their status, as the
// ReplicaSet controller and the kubelet would.
func createPods(t *testing.T, s *kubernetes.Scheduler, pods ...*corev1.Pod) {
	t.Helper()
	ctx := ctxT(t)
	for _, p := range pods {
		created, err := s.Client.CoreV1().Pods(s.Namespace).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Status.Phase == "" {
			continue
		}
		created.Status = p.Status
		if _, err := s.Client.CoreV1().Pods(s.Namespace).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDynosFromPods maps pods and the web Service's EndpointSlice to
// dynos.
func TestDynosFromPods(t *testing.T) {
	c, s := newScheduler(t)
	c.needLocal(t)
	ctx := ctxT(t)
	apply(t, s, shop("shop", 1, "hi"))
	createPods(t, s,
		dynoPod("shop", "web", "shop-web-5d8f9c7b6-aaaaa", running(true)),
		dynoPod("shop", "web", "shop-web-5d8f9c7b6-bbbbb", corev1.PodStatus{}), // not scheduled yet
		dynoPod("shop", "worker", "shop-worker-7c5b4-ccccc", crashLooping()),
		dynoPod("shop", "worker", "shop-worker-7c5b4-ddddd", running(true)),
		dynoPod("blog", "web", "blog-web-6f7d8-eeeee", running(true)),
	)
	port, name, ready := int32(5000), "http", true
	es := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:   "shop-web-x1y2z",
			Labels: map[string]string{discoveryv1.LabelServiceName: kubernetes.ServiceName("shop")},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{"10.244.1.7"},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Name: "shop-web-5d8f9c7b6-aaaaa", Namespace: s.Namespace},
		}},
		Ports: []discoveryv1.EndpointPort{{Name: &name, Port: &port}},
	}
	if _, err := s.Client.DiscoveryV1().EndpointSlices(s.Namespace).Create(ctx, es, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	got, err := s.Dynos(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	// The pod that has not been scheduled started at its creation, so it
	// sorts after web.aaaaa, whose start time is in the past.
	for i := range got {
		if got[i].ID == "shop-web-5d8f9c7b6-bbbbb" {
			if time.Since(got[i].StartedAt) > 5*time.Minute {
				t.Errorf("unscheduled pod StartedAt %v, want its creation time", got[i].StartedAt)
			}
			got[i].StartedAt = time.Time{}
		}
	}
	want := []formation.DynoStatus{
		{ID: "shop-web-5d8f9c7b6-aaaaa", App: "shop", Name: "web.aaaaa", Type: "web", Release: 1, State: formation.StateUp,
			Command: "bin/web", Addr: "10.244.1.7:5000", StartedAt: t1},
		{ID: "shop-web-5d8f9c7b6-bbbbb", App: "shop", Name: "web.bbbbb", Type: "web", Release: 1, State: formation.StateStarting,
			Command: "bin/web"},
		{ID: "shop-worker-7c5b4-ccccc", App: "shop", Name: "worker.ccccc", Type: "worker", Release: 1, State: formation.StateCrashed,
			Command: "bin/worker", StartedAt: t0, RestartAt: t2.Add(40 * time.Second)},
		{ID: "shop-worker-7c5b4-ddddd", App: "shop", Name: "worker.ddddd", Type: "worker", Release: 1, State: formation.StateUp,
			Command: "bin/worker", StartedAt: t1},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("Dynos (-want +got):\n%s", diff)
	}
}

func TestDynoOf(t *testing.T) {
	now := metav1.Now()
	deleting := dynoPod("shop", "web", "shop-web-1-aaaaa", running(true))
	deleting.DeletionTimestamp = &now
	notReady := dynoPod("shop", "web", "shop-web-1-aaaaa", running(false))
	evicted := dynoPod("shop", "web", "shop-web-1-aaaaa", corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"})
	pulling := dynoPod("shop", "web", "shop-web-1-aaaaa", corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
		Name: "dyno", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}},
	}}})
	badImage := dynoPod("shop", "web", "shop-web-1-aaaaa", corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
		Name: "dyno", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}},
	}}})
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want formation.State
	}{
		{"ready", dynoPod("shop", "web", "shop-web-1-aaaaa", running(true)), formation.StateUp},
		{"being deleted", deleting, formation.StateDown},
		{"running, not ready", notReady, formation.StateStarting},
		{"evicted", evicted, formation.StateCrashed},
		{"creating", pulling, formation.StateStarting},
		{"image pull back-off", badImage, formation.StateCrashed},
		{"crash loop", dynoPod("shop", "web", "shop-web-1-aaaaa", crashLooping()), formation.StateCrashed},
	} {
		if got := kubernetes.DynoOf(tc.pod).State; got != tc.want {
			t.Errorf("%s: state %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestFollowLogsFindsPods: FollowLogs calls out once per pod of the app as
// pods appear, and returns when its context ends. (Without a kubelet no
// log can be read; the streams keep retrying until then.)
func TestFollowLogsFindsPods(t *testing.T) {
	c, s := newScheduler(t)
	c.needLocal(t)
	createPods(t, s, dynoPod("shop", "web", "shop-web-5d8f9c7b6-aaaaa", running(true)))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var seen []string
	changed := make(chan struct{}, 10)
	done := make(chan error, 1)
	go func() {
		done <- s.FollowLogs(ctx, "shop", func(dyno string) formation.Stdio {
			mu.Lock()
			seen = append(seen, dyno)
			mu.Unlock()
			changed <- struct{}{}
			return formation.Stdio{}
		})
	}()
	await := func(want ...string) {
		t.Helper()
		deadline := time.After(time.Minute)
		for {
			mu.Lock()
			got := append([]string(nil), seen...)
			mu.Unlock()
			if cmp.Equal(got, want) {
				return
			}
			select {
			case <-changed:
			case <-deadline:
				t.Fatalf("out called for %v, want %v", got, want)
			}
		}
	}
	await("web.aaaaa")
	createPods(t, s,
		dynoPod("blog", "web", "blog-web-6f7d8-eeeee", running(true)),
		dynoPod("shop", "worker", "shop-worker-7c5b4-ccccc", crashLooping()),
	)
	await("web.aaaaa", "worker.ccccc")

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("FollowLogs = %v after cancel, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("FollowLogs did not return within 30s of cancel")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 {
		t.Errorf("out called for %v: a pod status update must not call it again", seen)
	}
}
