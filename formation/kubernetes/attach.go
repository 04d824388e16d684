package kubernetes

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes/scheme"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/dynokit/dynokit/formation"
)

// attach connects an attached one-off's stdin, stdout and stderr to its
// running container through the API server's pod attach API, until the
// container closes them (it ended) or ctx is done. When the attach cannot
// be made and nothing came through it (the container ended before it
// could, say) the output is copied from the pod log instead, as for a
// detached one-off.
func (o *OneOff) attach(ctx context.Context, stdio formation.Stdio) {
	out := &countingWriter{w: nonNil(stdio.Stdout)}
	errOut := &countingWriter{w: nonNil(stdio.Stderr)}
	err := o.stream(ctx, out, errOut)
	if err == nil || ctx.Err() != nil {
		return
	}
	o.s.logger().Warn("kubernetes: attaching to one-off", "pod", o.pod, "err", err)
	if out.n.Load() == 0 && errOut.n.Load() == 0 {
		o.copyLog(ctx, out)
	}
}

// stream runs one attach session. WebSocket first (client-go's choice
// since Kubernetes 1.30; the API server speaks SPDY to the kubelet), then
// SPDY when the upgrade to WebSocket is refused, as kubectl does.
func (o *OneOff) stream(ctx context.Context, stdout, stderr io.Writer) error {
	cfg := o.s.Config
	// The attach URL as client-go spells it, on the server of Config.
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("kubernetes: attach %s: %w", o.pod, err)
	}
	u := core.RESTClient().Post().
		Namespace(o.s.namespace()).Resource("pods").Name(o.pod).SubResource("attach").
		VersionedParams(&corev1.PodAttachOptions{
			Container: containerName, Stdin: true, Stdout: true, Stderr: true,
		}, scheme.ParameterCodec).
		URL()
	spdy, err := remotecommand.NewSPDYExecutor(cfg, "POST", u)
	if err != nil {
		return fmt.Errorf("kubernetes: attach %s: %w", o.pod, err)
	}
	ws, err := remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
	if err != nil {
		return fmt.Errorf("kubernetes: attach %s: %w", o.pod, err)
	}
	exec, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return fmt.Errorf("kubernetes: attach %s: %w", o.pod, err)
	}
	err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: o.stdin, Stdout: stdout, Stderr: stderr})
	if err != nil {
		return fmt.Errorf("kubernetes: attach %s: %w", o.pod, err)
	}
	return nil
}

// countingWriter counts what went through it, to tell an attach that
// failed before any output from one cut short.
type countingWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

func nonNil(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
