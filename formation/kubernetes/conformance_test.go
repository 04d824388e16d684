package kubernetes_test

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/formationtest"
	"github.com/dynokit/dynokit/formation/kubernetes"
)

func TestMain(m *testing.M) {
	formationtest.DynoMain() // the conformance suite's dynos run this binary
	code := m.Run()
	stopCluster()
	os.Exit(code)
}

// testImage is the stack image of the local API server's pods, which never
// run: any valid reference does.
const testImage = "registry.invalid/dynokit/stack:test"

func TestConformance(t *testing.T) {
	c := cluster(t)
	ns := c.namespace(t)
	image := testImage
	opts := formationtest.SchedulerOptions{
		NoDynosReason: "the local kube-apiserver has no kubelet, so pods never exist; set DYNOKIT_KUBECONFIG to run these cases on a real cluster",
		Desired: func(ctx context.Context, app string) (map[string]int, error) {
			return desired(ctx, c, ns, app)
		},
		Timeout:        time.Minute,
		UnindexedNames: true, // a Deployment's pods have no ordinal
	}
	if c.real {
		image = os.Getenv("DYNOKIT_KUBE_IMAGE")
		addr := os.Getenv("DYNOKIT_KUBE_SLUG_ADDR")
		if image == "" || addr == "" {
			t.Fatal("DYNOKIT_KUBECONFIG needs DYNOKIT_KUBE_IMAGE (a stack image with slugrunner) and DYNOKIT_KUBE_SLUG_ADDR (host:port on this machine the cluster's pods can reach)")
		}
		opts.RunsDynos = true
		opts.Slug = formationtest.ServeSlugAt(t, addr)
		// The crash case's dynos report their boots to the suite: on the
		// same host the pods reach for the slug, any free port.
		if host, _, err := net.SplitHostPort(addr); err == nil {
			opts.CallbackAddr = net.JoinHostPort(host, "0")
		}
		opts.Timeout = 5 * time.Minute
	}
	formationtest.TestScheduler(t, func(t *testing.T) formation.Scheduler {
		return &kubernetes.Scheduler{Client: c.client, Namespace: ns, Image: image}
	}, opts)
}

// desired reads the replicas of the app's Deployments by process type.
func desired(ctx context.Context, c *testCluster, ns, app string) (map[string]int, error) {
	list, err := c.client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{LabelSelector: kubernetes.LabelApp + "=" + app})
	if err != nil {
		return nil, err
	}
	m := map[string]int{}
	for _, d := range list.Items {
		m[d.Labels[kubernetes.LabelType]] = int(*d.Spec.Replicas)
	}
	return m, nil
}
