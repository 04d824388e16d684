package kubernetes

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/kubernetes/internal/dynoname"
)

// Dynos lists the app's pods as dynos, sorted by process type, then start
// time, then name. Names are "<type>.<pod suffix>" (see DynoName); a web
// dyno's Addr comes from the Service's EndpointSlices (pod IP and port).
func (s *Scheduler) Dynos(ctx context.Context, app string) ([]formation.DynoStatus, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	ns := s.namespace()
	pods, err := s.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: appSelector(app)})
	if err != nil {
		return nil, fmt.Errorf("kubernetes: app %s: listing pods: %w", app, err)
	}
	if len(pods.Items) == 0 {
		return nil, nil
	}
	epSlices, err := s.Client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + ServiceName(app),
	})
	if err != nil {
		return nil, fmt.Errorf("kubernetes: app %s: listing endpoint slices: %w", app, err)
	}
	addrs := PodAddrs(epSlices.Items)
	dynos := make([]formation.DynoStatus, 0, len(pods.Items))
	for i := range pods.Items {
		d := DynoOf(&pods.Items[i])
		if d.Type == "web" {
			d.Addr = addrs[pods.Items[i].Name]
		}
		dynos = append(dynos, d)
	}
	slices.SortFunc(dynos, func(a, b formation.DynoStatus) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), a.StartedAt.Compare(b.StartedAt), cmp.Compare(a.Name, b.Name))
	})
	return dynos, nil
}

// DynoName is the name of the dyno running in a pod of process type typ:
// the type, a dot, and the random suffix the ReplicaSet gave the pod's name
// ("web.x7k2p"). Deployment pods have no ordinal, so this is the name that
// stays the same for the pod's life; slugrunner sets DYNO to it.
func DynoName(typ, pod string) string { return dynoname.Of(typ, pod) }

// DynoOf maps a pod to a dyno (without Addr):
//
//   - being deleted: down;
//   - phase Failed (evicted, for example) or Unknown (node lost): crashed;
//   - Succeeded (a formation dyno should not end): down;
//   - the dyno container waiting after a restart, or waiting for a reason
//     that needs a fix (CrashLoopBackOff, image pull errors, a missing
//     Secret, ...), or terminated: crashed;
//   - running and ready: up; anything else: starting.
//
// StartedAt is when the container last started, else when the pod was
// scheduled, else created; for a crash-looping container RestartAt
// estimates the next start from the kubelet's back-off (10 s doubling up to
// 5 min).
func DynoOf(pod *corev1.Pod) formation.DynoStatus {
	typ := pod.Labels[LabelType]
	d := formation.DynoStatus{
		ID:        pod.Name,
		App:       pod.Labels[LabelApp],
		Name:      DynoName(typ, pod.Name),
		Type:      typ,
		Release:   releaseOf(pod.Labels),
		State:     formation.StateStarting,
		StartedAt: pod.CreationTimestamp.Time,
	}
	if pod.Status.StartTime != nil {
		d.StartedAt = pod.Status.StartTime.Time
	}
	for _, c := range pod.Spec.Containers {
		if c.Name == containerName && len(c.Args) > 0 {
			d.Command = c.Args[len(c.Args)-1]
		}
	}
	var cs *corev1.ContainerStatus
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == containerName {
			cs = &pod.Status.ContainerStatuses[i]
		}
	}
	if cs != nil && cs.State.Running != nil {
		d.StartedAt = cs.State.Running.StartedAt.Time
	}
	switch {
	case pod.DeletionTimestamp != nil:
		d.State = formation.StateDown
		return d
	case pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodUnknown:
		d.State = formation.StateCrashed
		return d
	case pod.Status.Phase == corev1.PodSucceeded:
		d.State = formation.StateDown
		return d
	case cs == nil:
		return d
	}
	switch {
	case cs.State.Running != nil && cs.Ready:
		d.State = formation.StateUp
	case cs.State.Terminated != nil:
		d.State = formation.StateCrashed
	case cs.State.Waiting != nil && (cs.RestartCount > 0 || stuck(cs.State.Waiting.Reason)):
		d.State = formation.StateCrashed
		if t := cs.LastTerminationState.Terminated; t != nil && cs.State.Waiting.Reason == "CrashLoopBackOff" {
			d.RestartAt = t.FinishedAt.Add(crashBackoff(cs.RestartCount))
		}
	}
	return d
}

// stuck reports the waiting reasons a container does not leave by itself.
func stuck(reason string) bool {
	switch reason {
	case "CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff", "InvalidImageName",
		"CreateContainerConfigError", "CreateContainerError", "RunContainerError":
		return true
	}
	return false
}

// crashBackoff is the kubelet's default restart back-off after n restarts.
func crashBackoff(n int32) time.Duration {
	d := 10 * time.Second
	for i := int32(1); i < n && d < 5*time.Minute; i++ {
		d *= 2
	}
	return min(d, 5*time.Minute)
}

// PodAddrs maps pod names to "ip:port" from EndpointSlices: the first
// address of each endpoint that targets a pod, with the slice's "http"
// port (or its only port).
func PodAddrs(items []discoveryv1.EndpointSlice) map[string]string {
	addrs := map[string]string{}
	for _, es := range items {
		var port int32
		for _, p := range es.Ports {
			if p.Port != nil && (port == 0 || (p.Name != nil && *p.Name == "http")) {
				port = *p.Port
			}
		}
		if port == 0 {
			continue
		}
		for _, ep := range es.Endpoints {
			if ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" || len(ep.Addresses) == 0 {
				continue
			}
			addrs[ep.TargetRef.Name] = net.JoinHostPort(ep.Addresses[0], strconv.Itoa(int(port)))
		}
	}
	return addrs
}
