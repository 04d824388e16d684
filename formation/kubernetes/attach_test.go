package kubernetes_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	remotecommandconsts "k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/util/retry"
	streaming "k8s.io/kubelet/pkg/cri/streaming/remotecommand"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/kubernetes"
	"github.com/dynokit/dynokit/internal/pty"
)

// standInProcess is what the stand-in kubelet attaches to: a process that
// echoes its stdin to stdout with a prefix, writes a line to stderr once
// stdin closes, and then exits with code (the test writes the container's
// terminated state, as the kubelet would report it).
type standInProcess struct {
	s    *kubernetes.Scheduler
	code int32
}

func (p *standInProcess) AttachContainer(ctx context.Context, pod string, _ types.UID, container string, in io.Reader, out, errOut io.WriteCloser, tty bool, _ <-chan remotecommand.TerminalSize) error {
	if in == nil || out == nil || errOut == nil || tty {
		return fmt.Errorf("attach to %s/%s: stdin %v, stdout %v, stderr %v, tty %v; want the three streams, no tty", pod, container, in != nil, out != nil, errOut != nil, tty)
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		if _, err := fmt.Fprintf(out, "you said: %s\n", sc.Text()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(errOut, "stdin closed, exiting"); err != nil {
		return err
	}
	// The process exits: its streams end with the container, which the
	// kubelet reports terminated.
	return reportExited(ctx, p.s, pod, p.code)
}

// reportExited writes the one-off pod's container as terminated with
// code, as the kubelet reports a process that exited.
func reportExited(ctx context.Context, s *kubernetes.Scheduler, pod string, code int32) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pods := s.Client.CoreV1().Pods(s.Namespace)
		cur, err := pods.Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Status = oneOffExited(code, "Error")
		_, err = pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
}

// TestOneOffAttach runs an attached one-off (heroku run) through the real
// API server's pod attach API. The Node's kubelet endpoint is an HTTPS
// server of the test's serving /attach/{namespace}/{pod}/{container} with
// the kubelet's own streaming server (k8s.io/kubelet's remotecommand), so
// the protocol, the API server's proxying, its URL and its authorization
// are the real ones; only the process is a stand-in.
func TestOneOffAttach(t *testing.T) {
	c, s := newScheduler(t)
	c.needLocal(t)
	proc := &standInProcess{s: s, code: 3}
	type request struct {
		path, query, upgrade, protocols string
	}
	var mu sync.Mutex
	var requests []request
	kubelet := attachKubelet(t, proc, func(r *http.Request) {
		mu.Lock()
		requests = append(requests, request{r.URL.Path, r.URL.RawQuery, r.Header.Get("Upgrade"), strings.Join(r.Header.Values("X-Stream-Protocol-Version"), ",")})
		mu.Unlock()
	})
	node := fakeNode(t, s, kubelet)
	// Which protocol the client spoke to the API server: the upgrades it
	// got for the attach subresource.
	var upgrades []string
	s.Config = rest.CopyConfig(s.Config)
	s.Config.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			resp, err := rt.RoundTrip(r)
			if !strings.HasSuffix(r.URL.Path, "/attach") {
				return resp, err
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				upgrades = append(upgrades, r.Method+" "+r.URL.Path+": "+err.Error())
			} else {
				upgrades = append(upgrades, fmt.Sprintf("%s %s: %d %s", r.Method, r.URL.Path, resp.StatusCode, resp.Header.Get("Upgrade")))
			}
			return resp, err
		})
	})

	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	o, pod := runOneOff(t, s, shop("shop", 1, "hi"), formation.OneOffSpec{Command: "bash", Stdin: strings.NewReader("hello\n")}, formation.Stdio{Stdout: stdout, Stderr: stderr})
	if ctr := pod.Spec.Containers[0]; !ctr.Stdin || !ctr.StdinOnce || ctr.TTY {
		t.Errorf("attached one-off's container: stdin %v, stdinOnce %v, tty %v; want stdin and stdinOnce, no tty", ctr.Stdin, ctr.StdinOnce, ctr.TTY)
	}
	bind(t, s, pod.Name, node)
	kubeletStatus(t, s, pod.Name, oneOffRunning())

	exit := wait(t, o)
	if exit.Code != 3 || exit.Signal != 0 || !exit.At.Equal(t2) {
		t.Errorf("Exit %+v, want code 3 at %v", exit, t2)
	}
	if got, want := stdout.String(), "you said: hello\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
	if got, want := stderr.String(), "stdin closed, exiting\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
	assertGone(t, s, pod.Name)

	mu.Lock()
	defer mu.Unlock()
	if len(requests) != 1 {
		t.Fatalf("kubelet got %d attach requests (%+v), want 1", len(requests), requests)
	}
	// WebSocket, which the API server translated to SPDY for the kubelet.
	if want := fmt.Sprintf("GET /api/v1/namespaces/%s/pods/%s/attach: 101 websocket", s.Namespace, pod.Name); len(upgrades) != 1 || upgrades[0] != want {
		t.Errorf("client's attach requests %q, want [%q]", upgrades, want)
	}
	r := requests[0]
	t.Logf("attach request at the kubelet: %+v", r)
	if want := "/attach/" + s.Namespace + "/" + pod.Name + "/dyno"; r.path != want {
		t.Errorf("kubelet asked for %s, want %s", r.path, want)
	}
	for _, p := range []string{"input=1", "output=1", "error=1"} {
		if !strings.Contains(r.query, p) {
			t.Errorf("kubelet's query %q lacks %s", r.query, p)
		}
	}
	if strings.Contains(r.query, "tty=1") {
		t.Errorf("kubelet's query %q asks for a tty", r.query)
	}
}

// attachKubelet is a stand-in kubelet serving the attach API with the
// kubelet's own streaming code for proc; seen gets each attach request.
func attachKubelet(t *testing.T, proc streaming.Attacher, seen func(*http.Request)) *httptest.Server {
	kubelet := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if len(parts) != 4 || parts[0] != "attach" {
			http.NotFound(w, r)
			return
		}
		seen(r)
		opts, err := streaming.NewOptions(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		streaming.ServeAttach(w, r, proc, parts[2], "", parts[3], opts, time.Minute, 30*time.Second, remotecommandconsts.SupportedStreamingProtocols)
	}))
	t.Cleanup(kubelet.Close)
	return kubelet
}

// terminalProcess is a stand-in attach target with a TTY: bash on a real
// pseudo-terminal of the size the attach sends, which prints that size
// and echoes a line, then exits with code.
type terminalProcess struct {
	s    *kubernetes.Scheduler
	code int32
}

func (p *terminalProcess) AttachContainer(ctx context.Context, pod string, _ types.UID, container string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	if in == nil || out == nil || errOut != nil || !tty {
		return fmt.Errorf("attach to %s/%s: stdin %v, stdout %v, stderr %v, tty %v; want stdin, stdout and a tty", pod, container, in != nil, out != nil, errOut != nil, tty)
	}
	var size remotecommand.TerminalSize
	select {
	case size = <-resize:
	case <-time.After(30 * time.Second):
		return errors.New("no terminal size came")
	}
	term, err := pty.NewRelay(int(size.Width), int(size.Height))
	if err != nil {
		return err
	}
	cmd := exec.Command("bash", "--norc", "--noprofile", "-c", `stty size; read -r x; echo "got:$x"`)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = term.Slave, term.Slave, term.Slave
	cmd.SysProcAttr = pty.Attr()
	if err := cmd.Start(); err != nil {
		term.Abandon()
		return err
	}
	term.Started(in, out)
	err = cmd.Wait()
	term.Close(5 * time.Second) // the output left in the terminal first
	if err != nil {
		return err
	}
	return reportExited(ctx, p.s, pod, p.code)
}

// TestOneOffAttachTerminal: a one-off on a terminal (heroku run from one)
// gets a container with a TTY, and the attach asks for one, sends its
// size and carries the keystrokes and the one output stream.
func TestOneOffAttachTerminal(t *testing.T) {
	c, s := newScheduler(t)
	c.needLocal(t)
	var mu sync.Mutex
	var queries []string
	kubelet := attachKubelet(t, &terminalProcess{s: s, code: 0}, func(r *http.Request) {
		mu.Lock()
		queries = append(queries, r.URL.RawQuery)
		mu.Unlock()
	})
	node := fakeNode(t, s, kubelet)
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	o, pod := runOneOff(t, s, shop("shop", 1, "hi"), formation.OneOffSpec{Command: "bash", Stdin: strings.NewReader("typed\r"), Terminal: &formation.Terminal{Cols: 90, Rows: 20}}, formation.Stdio{Stdout: stdout, Stderr: stderr})
	if ctr := pod.Spec.Containers[0]; !ctr.Stdin || !ctr.StdinOnce || !ctr.TTY {
		t.Errorf("one-off's container: stdin %v, stdinOnce %v, tty %v; want all three", ctr.Stdin, ctr.StdinOnce, ctr.TTY)
	}
	bind(t, s, pod.Name, node)
	kubeletStatus(t, s, pod.Name, oneOffRunning())
	if exit := wait(t, o); exit.Code != 0 {
		t.Errorf("Exit %+v, want code 0", exit)
	}
	for _, want := range []string{"20 90\r\n", "typed\r\n", "got:typed\r\n"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout %q lacks %q", stdout.String(), want)
		}
	}
	if stderr.String() != "" {
		t.Errorf("stderr %q, want nothing (a terminal has one output stream)", stderr.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(queries) != 1 || !strings.Contains(queries[0], "tty=1") || strings.Contains(queries[0], "error=1") {
		t.Errorf("kubelet's attach queries %q: want one with tty=1 and no error stream", queries)
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestOneOffAttachFailsToLog: when the kubelet cannot attach (here it
// answers every attach with an error), the attached one-off's output is
// copied from the pod log instead, and Wait still reports the exit.
func TestOneOffAttachFailsToLog(t *testing.T) {
	c, s := newScheduler(t)
	c.needLocal(t)
	exited := make(chan struct{})
	attaches := make(chan struct{}, 10)
	kubelet := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/attach/"):
			select {
			case attaches <- struct{}{}:
			default:
			}
			http.Error(w, "container not found", http.StatusInternalServerError)
		case strings.HasPrefix(r.URL.Path, "/containerLogs/"+s.Namespace+"/shop-run-"):
			fmt.Fprint(w, t1.Add(time.Second).Format(time.RFC3339Nano)+" irb(main):001>\n")
			w.(http.Flusher).Flush()
			select {
			case <-exited:
			case <-r.Context().Done():
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer kubelet.Close()
	node := fakeNode(t, s, kubelet)

	stdout := &syncBuffer{}
	o, _ := runOneOff(t, s, shop("shop", 1, "hi"), formation.OneOffSpec{Command: "irb", Stdin: strings.NewReader("exit\n")}, formation.Stdio{Stdout: stdout})
	bind(t, s, o.ID(), node)
	kubeletStatus(t, s, o.ID(), oneOffRunning())
	select {
	case <-attaches:
	case <-time.After(time.Minute):
		t.Fatal("no attach reached the kubelet within a minute of the container starting")
	}
	deadline := time.Now().Add(time.Minute)
	for stdout.String() != "irb(main):001>\n" {
		if time.Now().After(deadline) {
			t.Fatalf("output %q, want the log's line", stdout.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(exited)
	kubeletStatus(t, s, o.ID(), oneOffExited(0, "Completed"))
	if exit := wait(t, o); exit.Code != 0 || exit.Signal != 0 {
		t.Errorf("Exit %+v, want 0", exit)
	}
	if got := stdout.String(); got != "irb(main):001>\n" {
		t.Errorf("output %q after the exit, want the log's line once", got)
	}
	assertGone(t, s, o.ID())
}
