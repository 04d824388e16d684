package kubernetes

import (
	"cmp"
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
			Container: containerName, Stdin: true, Stdout: true, Stderr: o.terminal == nil, TTY: o.terminal != nil,
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
	// Ends the size queue's wait when the attach does.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := remotecommand.StreamOptions{Stdin: o.stdin, Stdout: stdout, Stderr: stderr}
	if t := o.terminal; t != nil {
		// A TTY has one output stream; its size goes once, first thing.
		opts.Stderr, opts.Tty = nil, true
		opts.TerminalSizeQueue = &fixedSize{ctx: ctx, size: remotecommand.TerminalSize{Width: uint16(cmp.Or(t.Cols, 80)), Height: uint16(cmp.Or(t.Rows, 24))}}
	}
	err = exec.StreamWithContext(ctx, opts)
	if err != nil {
		return fmt.Errorf("kubernetes: attach %s: %w", o.pod, err)
	}
	return nil
}

// fixedSize is a TerminalSizeQueue that gives one size, then waits for
// the attach to end (nil ends the resize stream).
type fixedSize struct {
	ctx  context.Context
	size remotecommand.TerminalSize
	sent atomic.Bool
}

func (f *fixedSize) Next() *remotecommand.TerminalSize {
	if !f.sent.Swap(true) {
		return &f.size
	}
	<-f.ctx.Done()
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
