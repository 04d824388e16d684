package kubernetes_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/kubernetes"
)

// syncBuffer is a bytes.Buffer safe for the follower's goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fakeNode registers a Node whose kubelet endpoint is kubelet, an HTTPS
// server of the test's, and returns its name. The API server proxies the
// pod log API of pods bound to it there.
func fakeNode(t *testing.T, s *kubernetes.Scheduler, kubelet *httptest.Server) string {
	t.Helper()
	ctx := ctxT(t)
	_, portStr, _ := net.SplitHostPort(kubelet.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)
	node, err := s.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-" + s.Namespace}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Client.CoreV1().Nodes().Delete(context.Background(), node.Name, metav1.DeleteOptions{})
	})
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
	if _, err := s.Client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	return node.Name
}

// TestFollowLogsThroughAPIServer follows a pod's log through the real API
// server's pod log API. No kubelet runs here, so the test registers a Node
// whose kubelet endpoint is an HTTPS server of its own answering
// /containerLogs as a kubelet does: the first stream ends after two lines
// (a container restart), the second, asked for with sinceTime, repeats the
// second line, as a whole-second sinceTime does, and adds a third.
func TestFollowLogsThroughAPIServer(t *testing.T) {
	c, s := newScheduler(t)
	c.needLocal(t)

	const pod = "shop-web-5d8f9c7b6-aaaaa"
	base := time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)
	line := func(ms int, text string) string {
		return base.Add(time.Duration(ms)*time.Millisecond).Format(time.RFC3339Nano) + " " + text + "\n"
	}
	var mu sync.Mutex
	var queries []string
	kubelet := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/containerLogs/"+s.Namespace+"/"+pod+"/dyno" {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		queries = append(queries, r.URL.RawQuery)
		n := len(queries)
		mu.Unlock()
		if n == 1 {
			fmt.Fprint(w, line(100, "web.aaaaa listening"), line(200, "GET / 200"))
			return
		}
		fmt.Fprint(w, line(100, "web.aaaaa listening"), line(200, "GET / 200"), line(300, "GET /after-restart 200"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer kubelet.Close()
	p := dynoPod("shop", "web", pod, running(true))
	p.Spec.NodeName = fakeNode(t, s, kubelet)
	createPods(t, s, p)

	out := &syncBuffer{}
	fctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- s.FollowLogs(fctx, "shop", func(dyno string) formation.Stdio {
			if dyno != "web.aaaaa" {
				t.Errorf("out(%q)", dyno)
			}
			return formation.Stdio{Stdout: out}
		})
	}()
	want := "web.aaaaa listening\nGET / 200\nGET /after-restart 200\n"
	deadline := time.Now().Add(time.Minute)
	for out.String() != want {
		if time.Now().After(deadline) || len(out.String()) > len(want) {
			t.Fatalf("followed log %q, want %q", out.String(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("FollowLogs = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("FollowLogs did not return within 30s of cancel")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(queries) != 2 {
		t.Fatalf("kubelet asked %d times (%q), want 2", len(queries), queries)
	}
	for i, q := range queries {
		if !strings.Contains(q, "follow=true") || !strings.Contains(q, "timestamps=true") {
			t.Errorf("request %d: query %q lacks follow and timestamps", i+1, q)
		}
	}
	if !strings.Contains(queries[1], "sinceTime=2026-11-22T01%3A00%3A00Z") {
		t.Errorf("reopened stream's query %q, want sinceTime of the last line's second", queries[1])
	}
}
