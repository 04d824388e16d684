package kubernetes_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/kubernetes"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from what the API server stores")

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newScheduler returns a Scheduler on a fresh namespace of the shared
// cluster.
func newScheduler(t *testing.T) (*testCluster, *kubernetes.Scheduler) {
	t.Helper()
	c := cluster(t)
	return c, &kubernetes.Scheduler{Client: c.client, Config: c.config, Namespace: c.namespace(t), Image: testImage}
}

const testDigest = "SHA256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

// shop is the app most tests deploy: web and worker with sizes, memory,
// a grace period and config vars (a repeated key and a DYNO to drop).
func shop(app string, release int, greeting string) formation.Deployment {
	return formation.Deployment{
		App:     app,
		Release: release,
		Slug:    formation.SlugSource{URL: "http://slugs.internal:8080/slugs/9f86d081", Digest: testDigest},
		Env:     []string{"GREETING=hello", "DATABASE_URL=postgres://db.internal/shop", "GREETING=" + greeting, "DYNO=web.99"},
		Processes: map[string]formation.ProcessSpec{
			"web":    {Command: "bundle exec puma -p $PORT", Quantity: 2, Size: "standard-2x", Resources: formation.Resources{MemoryBytes: 1 << 30, CPUShares: 2048}},
			"worker": {Command: "bundle exec sidekiq", Quantity: 1, Size: "standard-1x", Resources: formation.Resources{MemoryBytes: 512 << 20, CPUShares: 1024}},
		},
		Grace: 45 * time.Second,
	}
}

func apply(t *testing.T, s *kubernetes.Scheduler, d formation.Deployment) {
	t.Helper()
	if err := s.Apply(ctxT(t), d); err != nil {
		t.Fatalf("Apply(%s v%d): %v", d.App, d.Release, err)
	}
}

func getDeployment(t *testing.T, s *kubernetes.Scheduler, app, typ string) *appsv1.Deployment {
	t.Helper()
	d, err := s.Client.AppsV1().Deployments(s.Namespace).Get(ctxT(t), kubernetes.DeploymentName(app, typ), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func secretNames(t *testing.T, s *kubernetes.Scheduler, app string) []string {
	t.Helper()
	list, err := s.Client.CoreV1().Secrets(s.Namespace).List(ctxT(t), metav1.ListOptions{LabelSelector: kubernetes.LabelApp + "=" + app})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range list.Items {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return names
}

func envFromSecret(d *appsv1.Deployment) string {
	for _, ef := range d.Spec.Template.Spec.Containers[0].EnvFrom {
		if ef.SecretRef != nil {
			return ef.SecretRef.Name
		}
	}
	return ""
}

func containerEnv(d *appsv1.Deployment) map[string]string {
	m := map[string]string{}
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		if e.ValueFrom != nil {
			m[e.Name] = "fieldRef:" + e.ValueFrom.FieldRef.FieldPath
			continue
		}
		m[e.Name] = e.Value
	}
	return m
}

// golden compares v (as indented JSON) with testdata/name.golden.json.
func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs from %s (-want +got):\n%s", name, path, diff)
	}
}

// TestApplyCreatesObjects reads back what one Apply created: the fields
// dynokit owns (server-side apply's managed fields, extracted) against
// golden files, and the intent spelled out field by field.
func TestApplyCreatesObjects(t *testing.T) {
	_, s := newScheduler(t)
	ctx := ctxT(t)
	apply(t, s, shop("shop", 1, "hi"))

	web := getDeployment(t, s, "shop", "web")
	worker := getDeployment(t, s, "shop", "worker")
	secretName := envFromSecret(web)
	secret, err := s.Client.CoreV1().Secrets(s.Namespace).Get(ctx, secretName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the Secret web's envFrom names: %v", err)
	}
	svc, err := s.Client.CoreV1().Services(s.Namespace).Get(ctx, kubernetes.ServiceName("shop"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// Every managed field, exactly.
	for name, extract := range map[string]func() (any, error){
		"deployment-web":    func() (any, error) { return appsv1ac.ExtractDeployment(web, kubernetes.FieldManager) },
		"deployment-worker": func() (any, error) { return appsv1ac.ExtractDeployment(worker, kubernetes.FieldManager) },
		"secret":            func() (any, error) { return corev1ac.ExtractSecret(secret, kubernetes.FieldManager) },
		"service":           func() (any, error) { return corev1ac.ExtractService(svc, kubernetes.FieldManager) },
	} {
		v, err := extract()
		if err != nil {
			t.Fatal(err)
		}
		// The namespace is random per test.
		b, _ := json.Marshal(v)
		var m map[string]any
		json.Unmarshal(b, &m)
		delete(m["metadata"].(map[string]any), "namespace")
		golden(t, name, m)
	}

	// The intent, spelled out.
	if !strings.HasPrefix(secretName, "shop-env-v1-") {
		t.Errorf("secret name %q, want shop-env-v1-<hash>", secretName)
	}
	if secret.Immutable == nil || !*secret.Immutable {
		t.Error("the config-var Secret is not immutable")
	}
	gotData := map[string]string{}
	for k, v := range secret.Data {
		gotData[k] = string(v)
	}
	if diff := cmp.Diff(map[string]string{"GREETING": "hi", "DATABASE_URL": "postgres://db.internal/shop"}, gotData); diff != "" {
		t.Errorf("secret data (-want +got):\n%s", diff)
	}
	if envFromSecret(worker) != secretName {
		t.Errorf("worker uses secret %q, web %q", envFromSecret(worker), secretName)
	}
	for _, tc := range []struct {
		d        *appsv1.Deployment
		replicas int32
		memory   string
		cpu      string
		command  string
		env      map[string]string
	}{
		{web, 2, "1Gi", "2", "bundle exec puma -p $PORT", map[string]string{
			"SLUG_URL": "http://slugs.internal:8080/slugs/9f86d081", "SLUG_DIGEST": testDigest,
			"DYNOKIT_PROCESS_TYPE": "web", "DYNOKIT_POD_NAME": "fieldRef:metadata.name", "PORT": "5000"}},
		{worker, 1, "512Mi", "1", "bundle exec sidekiq", map[string]string{
			"SLUG_URL": "http://slugs.internal:8080/slugs/9f86d081", "SLUG_DIGEST": testDigest,
			"DYNOKIT_PROCESS_TYPE": "worker", "DYNOKIT_POD_NAME": "fieldRef:metadata.name"}},
	} {
		d := tc.d
		pod := d.Spec.Template.Spec
		c := pod.Containers[0]
		if *d.Spec.Replicas != tc.replicas {
			t.Errorf("%s: replicas %d, want %d", d.Name, *d.Spec.Replicas, tc.replicas)
		}
		if *pod.TerminationGracePeriodSeconds != 45 {
			t.Errorf("%s: terminationGracePeriodSeconds %d, want 45", d.Name, *pod.TerminationGracePeriodSeconds)
		}
		if got := c.Resources.Limits.Memory().String(); got != tc.memory {
			t.Errorf("%s: memory limit %s, want %s", d.Name, got, tc.memory)
		}
		if got := c.Resources.Requests.Memory().String(); got != tc.memory {
			t.Errorf("%s: memory request %s, want %s", d.Name, got, tc.memory)
		}
		// CPU is requested (the kubelet's cpu.shares is CPUShares) but not
		// limited: no CFS quota throttles a dyno on an idle node.
		if got := c.Resources.Requests.Cpu().String(); got != tc.cpu {
			t.Errorf("%s: cpu request %s, want %s", d.Name, got, tc.cpu)
		}
		if _, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
			t.Errorf("%s: cpu limit %v, want none", d.Name, c.Resources.Limits.Cpu())
		}
		if diff := cmp.Diff([]string{kubernetes.DefaultRunner, "--", tc.command}, append(c.Command, c.Args...)); diff != "" {
			t.Errorf("%s: command (-want +got):\n%s", d.Name, diff)
		}
		if c.Image != testImage {
			t.Errorf("%s: image %q", d.Name, c.Image)
		}
		if diff := cmp.Diff(tc.env, containerEnv(d)); diff != "" {
			t.Errorf("%s: env (-want +got):\n%s", d.Name, diff)
		}
		if d.Spec.Template.Labels[kubernetes.LabelRelease] != "1" {
			t.Errorf("%s: template labels %v lack release 1", d.Name, d.Spec.Template.Labels)
		}
		if *pod.AutomountServiceAccountToken || *pod.EnableServiceLinks {
			t.Errorf("%s: service account token or service links enabled", d.Name)
		}
	}
	if p := web.Spec.Template.Spec.Containers[0].ReadinessProbe; p == nil || p.TCPSocket == nil || p.TCPSocket.Port.IntValue() != 5000 {
		t.Errorf("web readiness probe %+v, want tcpSocket 5000", p)
	}
	if p := worker.Spec.Template.Spec.Containers[0].ReadinessProbe; p != nil {
		t.Errorf("worker has a readiness probe %+v", p)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 80 || svc.Spec.Ports[0].TargetPort.IntValue() != 5000 {
		t.Errorf("service ports %+v, want 80 → 5000", svc.Spec.Ports)
	}
	if diff := cmp.Diff(map[string]string{kubernetes.LabelApp: "shop", kubernetes.LabelType: "web"}, svc.Spec.Selector); diff != "" {
		t.Errorf("service selector (-want +got):\n%s", diff)
	}
	if svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Spec.ClusterIP == "" {
		t.Errorf("service type %s, cluster IP %q", svc.Spec.Type, svc.Spec.ClusterIP)
	}
}

// TestApplyUpdates: the same Deployment twice changes nothing; a new
// release gets a new Secret and a new pod template, and the Secret before
// the previous one is deleted.
func TestApplyUpdates(t *testing.T) {
	_, s := newScheduler(t)
	apply(t, s, shop("shop", 1, "hi"))
	web1 := getDeployment(t, s, "shop", "web")
	s1 := envFromSecret(web1)

	apply(t, s, shop("shop", 1, "hi"))
	if again := getDeployment(t, s, "shop", "web"); again.ResourceVersion != web1.ResourceVersion {
		t.Errorf("applying the same Deployment changed the web Deployment (resourceVersion %s → %s)", web1.ResourceVersion, again.ResourceVersion)
	}
	if got := secretNames(t, s, "shop"); !slices.Equal(got, []string{s1}) {
		t.Errorf("secrets %v, want [%s]", got, s1)
	}

	apply(t, s, shop("shop", 2, "bonjour"))
	web2 := getDeployment(t, s, "shop", "web")
	s2 := envFromSecret(web2)
	if s2 == s1 || !strings.HasPrefix(s2, "shop-env-v2-") {
		t.Errorf("release 2 uses secret %q (release 1: %q)", s2, s1)
	}
	if web2.Generation != web1.Generation+1 {
		t.Errorf("generation %d → %d, want one template change", web1.Generation, web2.Generation)
	}
	if web2.Spec.Template.Labels[kubernetes.LabelRelease] != "2" || web2.Labels[kubernetes.LabelRelease] != "2" {
		t.Errorf("release labels: template %v, deployment %v", web2.Spec.Template.Labels, web2.Labels)
	}
	sec, err := s.Client.CoreV1().Secrets(s.Namespace).Get(ctxT(t), s2, metav1.GetOptions{})
	if err != nil || string(sec.Data["GREETING"]) != "bonjour" {
		t.Errorf("release 2 secret: %v, GREETING=%q", err, sec.Data["GREETING"])
	}
	// Release 1's Secret stays while release 2 rolls out.
	if got, want := secretNames(t, s, "shop"), sorted(s1, s2); !slices.Equal(got, want) {
		t.Errorf("secrets %v, want %v", got, want)
	}

	apply(t, s, shop("shop", 3, "bonjour"))
	s3 := envFromSecret(getDeployment(t, s, "shop", "worker"))
	if got, want := secretNames(t, s, "shop"), sorted(s2, s3); !slices.Equal(got, want) {
		t.Errorf("after release 3: secrets %v, want %v", got, want)
	}
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

// TestScale goes through the scale subresource; the next Apply restores
// the Deployment's quantity.
func TestScale(t *testing.T) {
	_, s := newScheduler(t)
	ctx := ctxT(t)
	apply(t, s, shop("shop", 1, "hi"))
	if err := s.Scale(ctx, "shop", "worker", 5); err != nil {
		t.Fatal(err)
	}
	name := kubernetes.DeploymentName("shop", "worker")
	sc, err := s.Client.AppsV1().Deployments(s.Namespace).GetScale(ctx, name, metav1.GetOptions{})
	if err != nil || sc.Spec.Replicas != 5 {
		t.Fatalf("scale of %s: %+v, %v; want 5 replicas", name, sc, err)
	}
	worker := getDeployment(t, s, "shop", "worker")
	viaScale := false
	for _, mf := range worker.ManagedFields {
		if mf.Manager == kubernetes.FieldManager && mf.Subresource == "scale" {
			viaScale = true
		}
	}
	if !viaScale {
		t.Errorf("no managed-fields entry of %s for the scale subresource: %+v", kubernetes.FieldManager, worker.ManagedFields)
	}
	if got := *getDeployment(t, s, "shop", "web").Spec.Replicas; got != 2 {
		t.Errorf("web replicas %d after scaling worker, want 2", got)
	}
	rv := worker.ResourceVersion
	if err := s.Scale(ctx, "shop", "worker", 5); err != nil {
		t.Fatal(err)
	}
	if got := getDeployment(t, s, "shop", "worker").ResourceVersion; got != rv {
		t.Errorf("scaling to the current quantity wrote the Deployment")
	}

	apply(t, s, shop("shop", 1, "hi"))
	if got := *getDeployment(t, s, "shop", "worker").Spec.Replicas; got != 1 {
		t.Errorf("worker replicas %d after Apply, want the Deployment's 1", got)
	}

	for _, tc := range []struct{ app, typ string }{{"shop", "clock"}, {"other", "web"}} {
		if err := s.Scale(ctx, tc.app, tc.typ, 1); !errors.Is(err, formation.ErrUnknown) {
			t.Errorf("Scale(%s, %s) = %v, want ErrUnknown", tc.app, tc.typ, err)
		}
	}
	if err := s.Scale(ctx, "shop", "web", formation.MaxQuantity+1); err == nil {
		t.Error("Scale above MaxQuantity succeeded")
	}
}

// TestTypeRemovedAndDelete: a type left out is deleted (with the Service
// when it was web); Delete removes the app's objects and no other app's.
func TestTypeRemovedAndDelete(t *testing.T) {
	_, s := newScheduler(t)
	ctx := ctxT(t)
	apply(t, s, shop("shop", 1, "hi"))
	apply(t, s, shop("blog", 1, "hi"))

	d := shop("shop", 2, "hi")
	delete(d.Processes, "web")
	apply(t, s, d)
	if _, err := s.Client.AppsV1().Deployments(s.Namespace).Get(ctx, kubernetes.DeploymentName("shop", "web"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("web Deployment after web was removed: %v, want NotFound", err)
	}
	if _, err := s.Client.CoreV1().Services(s.Namespace).Get(ctx, kubernetes.ServiceName("shop"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("web Service after web was removed: %v, want NotFound", err)
	}
	getDeployment(t, s, "shop", "worker")

	for range 2 {
		if err := s.Delete(ctx, "shop"); err != nil {
			t.Fatal(err)
		}
	}
	sel := metav1.ListOptions{LabelSelector: kubernetes.LabelApp + "=shop"}
	deps, _ := s.Client.AppsV1().Deployments(s.Namespace).List(ctx, sel)
	svcs, _ := s.Client.CoreV1().Services(s.Namespace).List(ctx, sel)
	secs, _ := s.Client.CoreV1().Secrets(s.Namespace).List(ctx, sel)
	if n := len(deps.Items) + len(svcs.Items) + len(secs.Items); n != 0 {
		t.Errorf("%d objects of shop left after Delete", n)
	}
	getDeployment(t, s, "blog", "web")
	getDeployment(t, s, "blog", "worker")
	if _, err := s.Client.CoreV1().Services(s.Namespace).Get(ctx, kubernetes.ServiceName("blog"), metav1.GetOptions{}); err != nil {
		t.Errorf("blog's Service after deleting shop: %v", err)
	}
	if got := secretNames(t, s, "blog"); len(got) != 1 {
		t.Errorf("blog's secrets after deleting shop: %v", got)
	}
}

// TestForeignObjects: an object of the same name dynokit did not create
// for the app is neither taken over nor scaled nor deleted.
func TestForeignObjects(t *testing.T) {
	_, s := newScheduler(t)
	ctx := ctxT(t)
	labels := map[string]string{"run": "handmade"}
	one := int32(1)
	handmade := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: kubernetes.DeploymentName("shop", "web"), Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx"}}},
			},
		},
	}
	if _, err := s.Client.AppsV1().Deployments(s.Namespace).Create(ctx, handmade, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := s.Apply(ctx, shop("shop", 1, "hi"))
	if err == nil || !strings.Contains(err.Error(), "does not belong") {
		t.Errorf("Apply over a hand-made Deployment = %v, want a refusal", err)
	}
	if err := s.Scale(ctx, "shop", "web", 3); !errors.Is(err, formation.ErrUnknown) {
		t.Errorf("Scale of the hand-made Deployment = %v, want ErrUnknown", err)
	}
	if err := s.Delete(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	got := getDeployment(t, s, "shop", "web")
	if *got.Spec.Replicas != 1 || got.Spec.Template.Spec.Containers[0].Image != "nginx" {
		t.Errorf("the hand-made Deployment was changed: %+v", got.Spec)
	}
}

// TestServerSideValidation: what only the API server checks comes back as
// its Invalid error.
func TestServerSideValidation(t *testing.T) {
	_, s := newScheduler(t)
	ctx := ctxT(t)
	badApp := shop("Shop_App", 1, "hi")
	badEnv := shop("shop", 1, "hi")
	badEnv.Env = append(badEnv.Env, "NOT A KEY=1")
	badType := shop("shop", 1, "hi")
	badType.Processes["-worker"] = formation.ProcessSpec{Command: "x", Quantity: 1}
	hugeName := shop(strings.Repeat("a", 60), 1, "hi")
	apply(t, s, shop("shop", 1, "hi"))
	before := getDeployment(t, s, "shop", "web")
	for name, d := range map[string]formation.Deployment{
		"app name not a DNS label":     badApp,
		"config var not a secret key":  badEnv,
		"type not a label value":       badType,
		"service name over 63 letters": hugeName,
	} {
		d.Release = 2
		err := s.Apply(ctx, d)
		if !apierrors.IsInvalid(err) {
			t.Errorf("%s: Apply = %v, want the API server's Invalid", name, err)
		}
	}
	// The dry run caught each before anything was written.
	if after := getDeployment(t, s, "shop", "web"); after.ResourceVersion != before.ResourceVersion {
		t.Errorf("a refused Apply changed the web Deployment (release label %s)", after.Labels[kubernetes.LabelRelease])
	}
	if got := secretNames(t, s, "shop"); len(got) != 1 {
		t.Errorf("secrets after refused Applies: %v, want release 1's only", got)
	}
	for _, app := range []string{"Shop_App", strings.Repeat("a", 60)} {
		deps, err := s.Client.AppsV1().Deployments(s.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range deps.Items {
			if strings.HasPrefix(d.Name, strings.ToLower(app)) {
				t.Errorf("refused app %s left Deployment %s", app, d.Name)
			}
		}
	}
	if err := s.Apply(ctx, formation.Deployment{App: "shop"}); err == nil || apierrors.IsInvalid(err) {
		t.Errorf("Apply without a slug = %v, want formation's own validation error", err)
	}
	if err := (&kubernetes.Scheduler{Client: s.Client}).Apply(ctx, shop("shop", 1, "hi")); err == nil || !strings.Contains(err.Error(), "Image") {
		t.Errorf("Apply without Image = %v", err)
	}
}

// TestRestart sets the restart annotation on the pod templates asked for,
// and Apply keeps it.
func TestRestart(t *testing.T) {
	_, s := newScheduler(t)
	ctx := ctxT(t)
	apply(t, s, shop("shop", 1, "hi"))
	before := getDeployment(t, s, "shop", "web")
	if err := s.Restart(ctx, "shop", "web"); err != nil {
		t.Fatal(err)
	}
	web := getDeployment(t, s, "shop", "web")
	at := web.Spec.Template.Annotations[kubernetes.AnnotationRestartedAt]
	if at == "" || web.Generation != before.Generation+1 {
		t.Fatalf("after Restart(web): annotation %q, generation %d → %d", at, before.Generation, web.Generation)
	}
	if a := getDeployment(t, s, "shop", "worker").Spec.Template.Annotations[kubernetes.AnnotationRestartedAt]; a != "" {
		t.Errorf("Restart(web) restarted the worker too")
	}
	apply(t, s, shop("shop", 1, "hi"))
	if a := getDeployment(t, s, "shop", "web").Spec.Template.Annotations[kubernetes.AnnotationRestartedAt]; a != at {
		t.Errorf("Apply changed the restart annotation %q → %q: it would restart the dynos again", at, a)
	}
	if err := s.Restart(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	if a := getDeployment(t, s, "shop", "worker").Spec.Template.Annotations[kubernetes.AnnotationRestartedAt]; a == "" {
		t.Error("Restart(shop) did not restart the worker")
	}
	if err := s.Restart(ctx, "shop", "clock"); !errors.Is(err, formation.ErrUnknown) {
		t.Errorf("Restart of an unknown type = %v, want ErrUnknown", err)
	}
}

// TestNoDynosWithoutKubelet: on the local API server nothing turns a
// Deployment into pods, so an applied app has no dynos.
func TestNoDynosWithoutKubelet(t *testing.T) {
	c, s := newScheduler(t)
	c.needLocal(t)
	apply(t, s, shop("shop", 1, "hi"))
	ds, err := s.Dynos(ctxT(t), "shop")
	if err != nil || len(ds) != 0 {
		t.Errorf("Dynos = %v, %v; want none (no controller manager, no kubelet)", ds, err)
	}
}
