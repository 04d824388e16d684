package kubernetes

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/dynokit/dynokit/formation"
)

// FollowLogs streams the output of the app's dynos from the pod log API
// (follow, with timestamps) until ctx is done, then returns nil. It watches
// the app's pods: out is called once per pod, when it is first seen, with
// the dyno name, and the pod's log goes to the returned Stdout. The
// kubelet keeps one log per container with stdout and stderr interleaved,
// so Stderr is not used. When a stream ends (the container restarted, the
// kubelet or the connection went away) it is opened again from the last
// timestamp seen, skipping lines already written, until the pod is gone;
// a pod whose container has not started yet is retried with back-off (1 s
// doubling to 10 s).
func (s *Scheduler) FollowLogs(ctx context.Context, app string, out func(dyno string) formation.Stdio) error {
	if err := s.check(); err != nil {
		return err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	pods := s.Client.CoreV1().Pods(s.namespace())
	seen := map[string]bool{}
	follow := func(p *corev1.Pod) {
		if seen[p.Name] {
			return
		}
		seen[p.Name] = true
		w := out(DynoName(p.Labels[LabelType], p.Name)).Stdout
		if w == nil {
			w = io.Discard
		}
		name := p.Name
		wg.Go(func() { s.followPod(ctx, name, w) })
	}
	delay := time.Second
	for ctx.Err() == nil {
		list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: appSelector(app)})
		if err != nil {
			if ctx.Err() == nil {
				s.logger().Warn("kubernetes: listing pods for logs", "app", app, "err", err)
			}
			sleep(ctx, &delay)
			continue
		}
		for i := range list.Items {
			follow(&list.Items[i])
		}
		timeout := int64(300)
		wt, err := pods.Watch(ctx, metav1.ListOptions{
			LabelSelector:   appSelector(app),
			ResourceVersion: list.ResourceVersion,
			TimeoutSeconds:  &timeout,
		})
		if err != nil {
			if ctx.Err() == nil {
				s.logger().Warn("kubernetes: watching pods for logs", "app", app, "err", err)
			}
			sleep(ctx, &delay)
			continue
		}
		delay = time.Second
		for ev := range wt.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue // a watch error (resource version too old): re-list
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				follow(p)
			case watch.Deleted:
				delete(seen, p.Name)
			}
		}
		wt.Stop()
	}
	return nil
}

// followPod copies one pod's log to w until the pod is gone or ctx is done.
func (s *Scheduler) followPod(ctx context.Context, name string, w io.Writer) {
	pods := s.Client.CoreV1().Pods(s.namespace())
	var last time.Time
	delay := time.Second
	for ctx.Err() == nil {
		opts := &corev1.PodLogOptions{Container: containerName, Follow: true, Timestamps: true}
		if !last.IsZero() {
			// SinceTime has whole seconds; copyLines drops the repeats.
			opts.SinceTime = &metav1.Time{Time: last}
		}
		rc, err := pods.GetLogs(name, opts).Stream(ctx)
		if err == nil {
			var n int
			last, n = copyLines(rc, w, last)
			rc.Close()
			if n > 0 {
				delay = time.Second
			}
		}
		if ctx.Err() != nil {
			return
		}
		if _, gerr := pods.Get(ctx, name, metav1.GetOptions{}); apierrors.IsNotFound(gerr) {
			return
		}
		if err != nil {
			s.logger().Debug("kubernetes: pod log not available yet", "pod", name, "err", err)
		}
		sleep(ctx, &delay)
	}
}

// copyLines writes each "<RFC 3339 time> <text>" line of r to w without
// the time, skipping lines not after since, and returns the last time
// written and the number of lines.
func copyLines(r io.Reader, w io.Writer, since time.Time) (time.Time, int) {
	br := bufio.NewReader(r)
	n := 0
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			ts, text, ok := bytes.Cut(line, []byte(" "))
			t, perr := time.Parse(time.RFC3339Nano, string(ts))
			switch {
			case !ok || perr != nil:
				w.Write(line)
				n++
			case t.After(since):
				w.Write(text)
				since = t
				n++
			}
		}
		if err != nil {
			// EOF or a cut connection: either way the caller reopens the
			// stream from since.
			return since, n
		}
	}
}

// sleep waits *delay (or until ctx is done) and doubles it up to 10 s.
func sleep(ctx context.Context, delay *time.Duration) {
	t := time.NewTimer(*delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	*delay = min(*delay*2, 10*time.Second)
}
