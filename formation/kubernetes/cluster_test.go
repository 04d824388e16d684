package kubernetes_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// The tests run against one of:
//
//   - a real cluster: DYNOKIT_KUBECONFIG names its kubeconfig (current
//     context). Pods run there, so the cases that need running dynos run
//     too (see the package documentation for what else they need);
//   - a kube-apiserver and etcd started here on loopback ports:
//     DYNOKIT_KUBE_APISERVER is the apiserver binary
//     (scripts/install-kube-apiserver builds it), etcd comes from PATH (or
//     DYNOKIT_ETCD). Without a controller manager, scheduler or kubelet,
//     nothing acts on the objects: no ReplicaSet, no pod.
//
// Without either, the tests skip, unless DYNOKIT_TEST_REQUIRE=1.

// testCluster is the API server the package's tests share.
type testCluster struct {
	client kubernetes.Interface
	// config is what client was made from (attach needs it).
	config *rest.Config
	// real is true for a cluster with nodes (DYNOKIT_KUBECONFIG).
	real bool
}

// shared starts the local API server on first use and stops it at the end
// of TestMain.
var shared struct {
	once    sync.Once
	cluster *testCluster
	err     error
	skip    string
	stop    func()
}

func stopCluster() {
	if shared.stop != nil {
		shared.stop()
	}
}

// cluster returns the shared cluster, or skips the test without one.
func cluster(t testing.TB) *testCluster {
	t.Helper()
	shared.once.Do(func() {
		shared.cluster, shared.skip, shared.stop, shared.err = startCluster()
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	if shared.skip != "" {
		if os.Getenv("DYNOKIT_TEST_REQUIRE") == "1" {
			t.Fatalf("DYNOKIT_TEST_REQUIRE=1 but %s", shared.skip)
		}
		t.Skip(shared.skip)
	}
	return shared.cluster
}

func startCluster() (*testCluster, string, func(), error) {
	if kc := os.Getenv("DYNOKIT_KUBECONFIG"); kc != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", kc)
		if err != nil {
			return nil, "", nil, fmt.Errorf("DYNOKIT_KUBECONFIG: %w", err)
		}
		c, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, "", nil, err
		}
		return &testCluster{client: c, config: cfg, real: true}, "", nil, nil
	}
	apiserver := os.Getenv("DYNOKIT_KUBE_APISERVER")
	if apiserver == "" {
		return nil, "no Kubernetes API server: set DYNOKIT_KUBE_APISERVER (scripts/install-kube-apiserver) or DYNOKIT_KUBECONFIG", nil, nil
	}
	etcd := os.Getenv("DYNOKIT_ETCD")
	if etcd == "" {
		p, err := exec.LookPath("etcd")
		if err != nil {
			return nil, "etcd not found on PATH (Debian package etcd-server) or in DYNOKIT_ETCD", nil, nil
		}
		etcd = p
	}
	lc, err := startLocal(apiserver, etcd)
	if err != nil {
		return nil, "", nil, err
	}
	return &testCluster{client: lc.client, config: lc.config}, "", lc.stop, nil
}

// localCluster is etcd plus kube-apiserver on loopback ports.
type localCluster struct {
	dir    string
	client kubernetes.Interface
	config *rest.Config
	procs  []*exec.Cmd
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func startLocal(apiserver, etcd string) (lc *localCluster, err error) {
	dir, err := os.MkdirTemp("", "dynokit-kube-")
	if err != nil {
		return nil, err
	}
	lc = &localCluster{dir: dir}
	defer func() {
		if err != nil {
			lc.stop()
		}
	}()
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	clientURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	if err := lc.start("etcd", etcd,
		"--name=dynokit", "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+clientURL, "--advertise-client-urls="+clientURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=dynokit="+peerURL,
	); err != nil {
		return nil, err
	}

	// The service-account key pair the apiserver insists on, and a static
	// token for the tests (system:masters passes every RBAC check).
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	tokenBytes := make([]byte, 16)
	rand.Read(tokenBytes)
	token := hex.EncodeToString(tokenBytes)
	files := map[string][]byte{
		"sa.key":     pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		"sa.pub":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
		"tokens.csv": []byte(token + ",dynokit-test,dynokit-test,system:masters\n"),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return nil, err
		}
	}
	if err := lc.start("kube-apiserver", apiserver,
		"--etcd-servers="+clientURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(ports[2]),
		"--cert-dir="+filepath.Join(dir, "certs"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+filepath.Join(dir, "sa.pub"),
		"--service-account-signing-key-file="+filepath.Join(dir, "sa.key"),
		"--service-cluster-ip-range=10.96.0.0/16",
		"--authorization-mode=RBAC",
		"--token-auth-file="+filepath.Join(dir, "tokens.csv"),
		// Less work on a small shared machine; neither matters here.
		"--enable-priority-and-fairness=false", "--profiling=false",
	); err != nil {
		return nil, err
	}
	cfg := &rest.Config{
		Host:        "https://127.0.0.1:" + strconv.Itoa(ports[2]),
		BearerToken: token,
		// The apiserver's self-signed serving certificate, generated at
		// start in a directory of this test, on loopback.
		TLSClientConfig: rest.TLSClientConfig{Insecure: true},
		QPS:             200,
		Burst:           400,
		// TestServerSideValidation provokes warnings on purpose.
		WarningHandler: rest.NoWarnings{},
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	lc.client, lc.config = c, cfg
	if err := lc.waitReady(2 * time.Minute); err != nil {
		return nil, err
	}
	return lc, nil
}

func (lc *localCluster) start(name, bin string, args ...string) error {
	log, err := os.Create(filepath.Join(lc.dir, name+".log"))
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	lc.procs = append(lc.procs, cmd)
	return nil
}

func (lc *localCluster) waitReady(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		b, err := lc.client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil && string(b) == "ok" {
			return nil
		}
		last = err
		for _, p := range lc.procs {
			if p.ProcessState != nil {
				return fmt.Errorf("%s exited: %s", p.Path, lc.logs())
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kube-apiserver not ready after %v: %v\n%s", timeout, last, lc.logs())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// logs returns the tails of the component logs, for failures.
func (lc *localCluster) logs() string {
	var out string
	for _, name := range []string{"etcd", "kube-apiserver"} {
		b, _ := os.ReadFile(filepath.Join(lc.dir, name+".log"))
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		out += "--- " + name + " log (tail) ---\n" + string(b) + "\n"
	}
	return out
}

func (lc *localCluster) stop() {
	// Reverse order: the apiserver before its etcd.
	for i := len(lc.procs) - 1; i >= 0; i-- {
		p := lc.procs[i]
		p.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			p.Process.Kill()
			<-done
		}
	}
	os.RemoveAll(lc.dir)
}

// namespace creates a namespace for one test and deletes it afterwards. On
// the local server it also creates the "default" ServiceAccount, which the
// service-account controller would (the tests create pods there by hand).
func (c *testCluster) namespace(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := make([]byte, 4)
	rand.Read(b)
	name := "dynokit-test-" + hex.EncodeToString(b)
	if _, err := c.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("deleting namespace %s: %v", name, err)
		}
	})
	if !c.real {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
		if _, err := c.client.CoreV1().ServiceAccounts(name).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	return name
}

// needLocal skips tests that create pods by hand: only on the local API
// server, where no kubelet would try to run them.
func (c *testCluster) needLocal(t testing.TB) {
	t.Helper()
	if c.real {
		t.Skip("creates pods by hand; only against the local API server")
	}
}
