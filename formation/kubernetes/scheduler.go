package kubernetes

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"

	"github.com/dynokit/dynokit/formation"
)

// Scheduler runs formations as Kubernetes Deployments in one namespace.
// Client and Image are required; the other fields have working zero
// values. It is safe for concurrent use, but two Applies of the same app
// at once race like two kubectl applies would.
type Scheduler struct {
	// Client talks to the cluster (kubernetes.NewForConfig).
	Client kubernetes.Interface
	// Config is the configuration Client was made from. Only attached
	// one-offs (OneOffSpec.Stdin) need it: client-go builds the pod attach
	// API's streaming connection from a *rest.Config, not from a
	// kubernetes.Interface. nil refuses attached one-offs.
	Config *rest.Config
	// Namespace holds every object of every app; "" means "default". It
	// must exist.
	Namespace string
	// Image is the stack image dyno pods run: an OS image with bash and
	// the slugrunner binary at Runner (see the package documentation).
	Image string
	// Runner is the path of slugrunner in Image; "" means
	// DefaultRunner.
	Runner string
	// Port is $PORT of web dynos, the port their pods listen on; 0 means
	// DefaultPort. Every pod has its own network namespace, so one port
	// serves all.
	Port int
	// OneOffDeadline bounds the life of one-off dynos: the kubelet kills
	// one still running after it (the pod's activeDeadlineSeconds,
	// rounded up to whole seconds). 0 means no limit.
	OneOffDeadline time.Duration
	// Logger receives what Apply deletes and log-follow retries; nil
	// discards.
	Logger *slog.Logger
}

// Defaults of Scheduler's fields.
const (
	DefaultRunner = "/usr/local/bin/slugrunner"
	DefaultPort   = 5000
)

var (
	_ formation.Scheduler    = (*Scheduler)(nil)
	_ formation.Restarter    = (*Scheduler)(nil)
	_ formation.LogFollower  = (*Scheduler)(nil)
	_ formation.OneOffRunner = (*Scheduler)(nil)
)

func (s *Scheduler) namespace() string { return cmp.Or(s.Namespace, "default") }
func (s *Scheduler) runner() string    { return cmp.Or(s.Runner, DefaultRunner) }
func (s *Scheduler) port() int         { return cmp.Or(s.Port, DefaultPort) }

func (s *Scheduler) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *Scheduler) check() error {
	switch {
	case s.Client == nil:
		return errors.New("kubernetes: Scheduler.Client is nil")
	case s.Image == "":
		return errors.New("kubernetes: Scheduler.Image is empty: dyno pods need a stack image with slugrunner")
	}
	return nil
}

func applyOpts() metav1.ApplyOptions {
	// Force: dynokit owns these objects; a field someone changed by hand
	// (kubectl scale, edit) goes back to what the Deployment says.
	return metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
}

// foreign reports an object of the same name that is not this app's.
func foreign(kind, name, app string, labels map[string]string) error {
	if labels[LabelApp] == app && labels[labelManagedBy] == managedBy {
		return nil
	}
	return fmt.Errorf("kubernetes: app %s: %s %s already exists and does not belong to it (labels %s=%q, %s=%q)",
		app, kind, name, LabelApp, labels[LabelApp], labelManagedBy, labels[labelManagedBy])
}

// Apply creates or updates, with server-side apply, the release's Secret,
// one Deployment per process type and the web Service, after a dry run of
// all of them, so that an object the API server refuses leaves everything
// as it was. Then it deletes the Deployments of types d no longer has, the
// Service if web is gone, and the Secrets no Deployment uses any more (the
// one the Deployments used before this Apply is kept, for pods of the
// previous rollout that restart before they are replaced, and so are those
// of pods that have not ended, one-off dynos among them).
func (s *Scheduler) Apply(ctx context.Context, d formation.Deployment) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := d.Validate(); err != nil {
		return err
	}
	data, err := configVars(d.Env)
	if err != nil {
		return err
	}
	ns := s.namespace()
	apps := s.Client.AppsV1().Deployments(ns)
	existing, err := apps.List(ctx, metav1.ListOptions{LabelSelector: appSelector(d.App)})
	if err != nil {
		return fmt.Errorf("kubernetes: app %s: listing deployments: %w", d.App, err)
	}
	keepSecrets := map[string]bool{}
	owned := map[string]bool{}
	for _, dep := range existing.Items {
		owned[dep.Name] = true
		secretRefs(dep.Spec.Template.Spec, keepSecrets)
	}

	secret := secretName(d.App, d.Release, data)
	keepSecrets[secret] = true
	want := map[string]bool{}
	for _, typ := range slices.Sorted(maps.Keys(d.Processes)) {
		name := DeploymentName(d.App, typ)
		if want[name] {
			return fmt.Errorf("kubernetes: app %s: process types map to the same deployment name %s", d.App, name)
		}
		want[name] = true
		if !owned[name] {
			if err := s.ensureOurs(ctx, "deployment", name, d.App); err != nil {
				return err
			}
		}
	}
	if err := s.ensureOurs(ctx, "secret", secret, d.App); err != nil {
		return err
	}
	_, web := d.Processes["web"]
	if web {
		if err := s.ensureOurs(ctx, "service", ServiceName(d.App), d.App); err != nil {
			return err
		}
	}
	// A dry run first: the API server validates (and admission checks)
	// every object before any is written, so a Deployment it refuses does
	// not leave the app half on the new release.
	for _, dryRun := range []bool{true, false} {
		opts := applyOpts()
		if dryRun {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		if _, err := s.Client.CoreV1().Secrets(ns).Apply(ctx, s.secret(d, secret, data), opts); err != nil {
			return fmt.Errorf("kubernetes: app %s: applying secret %s: %w", d.App, secret, err)
		}
		for _, typ := range slices.Sorted(maps.Keys(d.Processes)) {
			if _, err := apps.Apply(ctx, s.deployment(d, typ, d.Processes[typ], secret), opts); err != nil {
				return fmt.Errorf("kubernetes: app %s: applying deployment %s: %w", d.App, DeploymentName(d.App, typ), err)
			}
		}
		if web {
			if _, err := s.Client.CoreV1().Services(ns).Apply(ctx, s.service(d.App), opts); err != nil {
				return fmt.Errorf("kubernetes: app %s: applying service %s: %w", d.App, ServiceName(d.App), err)
			}
		}
	}

	if !web {
		if err := s.deleteOwned(ctx, "service", ServiceName(d.App), d.App); err != nil {
			return err
		}
	}

	for _, dep := range existing.Items {
		if !want[dep.Name] {
			if err := deleteIgnoringMissing(ctx, apps.Delete, dep.Name); err != nil {
				return fmt.Errorf("kubernetes: app %s: deleting deployment %s: %w", d.App, dep.Name, err)
			}
			s.logger().Info("kubernetes: deleted deployment of removed process type", "app", d.App, "deployment", dep.Name)
		}
	}
	secrets, err := s.Client.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: appSelector(d.App)})
	if err != nil {
		return fmt.Errorf("kubernetes: app %s: listing secrets: %w", d.App, err)
	}
	// Listed after the Secrets, so a one-off started in between (its
	// Secret applied before its pod) is seen.
	pods, err := s.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: appSelector(d.App)})
	if err != nil {
		return fmt.Errorf("kubernetes: app %s: listing pods: %w", d.App, err)
	}
	for _, p := range pods.Items {
		// A pod that has not ended may still (re)start its container,
		// which reads the Secret then: one-offs, and pods of older
		// ReplicaSets still being replaced.
		if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			secretRefs(p.Spec, keepSecrets)
		}
	}
	for _, sec := range secrets.Items {
		if !keepSecrets[sec.Name] {
			if err := deleteIgnoringMissing(ctx, s.Client.CoreV1().Secrets(ns).Delete, sec.Name); err != nil {
				return fmt.Errorf("kubernetes: app %s: deleting old secret %s: %w", d.App, sec.Name, err)
			}
			s.logger().Info("kubernetes: deleted config vars of an old release", "app", d.App, "secret", sec.Name)
		}
	}
	return nil
}

// secretRefs adds the Secrets spec's containers take variables from to
// names.
func secretRefs(spec corev1.PodSpec, names map[string]bool) {
	for _, c := range spec.Containers {
		for _, ef := range c.EnvFrom {
			if ef.SecretRef != nil {
				names[ef.SecretRef.Name] = true
			}
		}
	}
}

// ensureOurs fails when an object of that kind and name exists and is not
// the app's: server-side apply with Force would silently take it over.
func (s *Scheduler) ensureOurs(ctx context.Context, kind, name, app string) error {
	ns := s.namespace()
	var (
		meta metav1.Object
		err  error
	)
	switch kind {
	case "secret":
		meta, err = s.Client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	case "service":
		meta, err = s.Client.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	case "deployment":
		meta, err = s.Client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	default:
		panic("kubernetes: ensureOurs: unknown kind " + kind)
	}
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("kubernetes: app %s: reading %s %s: %w", app, kind, name, err)
	}
	return foreign(kind, name, app, meta.GetLabels())
}

// deleteOwned deletes the Service name if it exists and is the app's.
func (s *Scheduler) deleteOwned(ctx context.Context, kind, name, app string) error {
	svcs := s.Client.CoreV1().Services(s.namespace())
	svc, err := svcs.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("kubernetes: app %s: reading %s %s: %w", app, kind, name, err)
	}
	if foreign(kind, name, app, svc.Labels) != nil {
		return nil
	}
	if err := deleteIgnoringMissing(ctx, svcs.Delete, name); err != nil {
		return fmt.Errorf("kubernetes: app %s: deleting %s %s: %w", app, kind, name, err)
	}
	return nil
}

func deleteIgnoringMissing(ctx context.Context, del func(context.Context, string, metav1.DeleteOptions) error, name string) error {
	// Background: the call returns at once and the garbage collector
	// removes the ReplicaSets and pods; their containers get SIGTERM and
	// the grace period as in any scale-down.
	bg := metav1.DeletePropagationBackground
	err := del(ctx, name, metav1.DeleteOptions{PropagationPolicy: &bg})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// ownedDeployment returns the app's Deployment of process type typ, or an
// error wrapping formation.ErrUnknown.
func (s *Scheduler) ownedDeployment(ctx context.Context, app, typ string) (*appsv1.Deployment, error) {
	name := DeploymentName(app, typ)
	dep, err := s.Client.AppsV1().Deployments(s.namespace()).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || (err == nil && (dep.Labels[LabelApp] != app || dep.Labels[LabelType] != typ)) {
		return nil, fmt.Errorf("kubernetes: app %s, process type %s: %w", app, typ, formation.ErrUnknown)
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes: app %s: reading deployment %s: %w", app, name, err)
	}
	return dep, nil
}

// Scale sets the replicas of the process type's Deployment through its
// scale subresource, as kubectl scale does. The next Apply sets them to
// that Deployment's quantity again.
func (s *Scheduler) Scale(ctx context.Context, app, typ string, quantity int) error {
	if err := s.check(); err != nil {
		return err
	}
	if quantity < 0 || quantity > formation.MaxQuantity {
		return fmt.Errorf("kubernetes: app %s: %s quantity %d must be from 0 to %d", app, typ, quantity, formation.MaxQuantity)
	}
	dep, err := s.ownedDeployment(ctx, app, typ)
	if err != nil {
		return err
	}
	apps := s.Client.AppsV1().Deployments(s.namespace())
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		sc, err := apps.GetScale(ctx, dep.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if sc.Spec.Replicas == int32(quantity) {
			return nil
		}
		_, err = apps.UpdateScale(ctx, dep.Name, &autoscalingv1.Scale{
			ObjectMeta: metav1.ObjectMeta{Name: dep.Name, Namespace: dep.Namespace, ResourceVersion: sc.ResourceVersion},
			Spec:       autoscalingv1.ScaleSpec{Replicas: int32(quantity)},
		}, metav1.UpdateOptions{FieldManager: FieldManager})
		return err
	})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("kubernetes: app %s, process type %s: %w", app, typ, formation.ErrUnknown)
	}
	if err != nil {
		return fmt.Errorf("kubernetes: app %s: scaling %s to %d: %w", app, dep.Name, quantity, err)
	}
	return nil
}

// Restart replaces the pods of the given process types (all when none is
// given) with a rolling update, the way kubectl rollout restart does: it
// sets AnnotationRestartedAt on the pod template. An unknown type is an
// error wrapping formation.ErrUnknown, and so is an app with no
// Deployments.
func (s *Scheduler) Restart(ctx context.Context, app string, types ...string) error {
	if err := s.check(); err != nil {
		return err
	}
	apps := s.Client.AppsV1().Deployments(s.namespace())
	var names []string
	if len(types) == 0 {
		list, err := apps.List(ctx, metav1.ListOptions{LabelSelector: appSelector(app)})
		if err != nil {
			return fmt.Errorf("kubernetes: app %s: listing deployments: %w", app, err)
		}
		for _, dep := range list.Items {
			names = append(names, dep.Name)
		}
		if len(names) == 0 {
			return fmt.Errorf("kubernetes: app %s: %w", app, formation.ErrUnknown)
		}
	}
	for _, typ := range types {
		dep, err := s.ownedDeployment(ctx, app, typ)
		if err != nil {
			return err
		}
		names = append(names, dep.Name)
	}
	patch := fmt.Appendf(nil, `{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`,
		AnnotationRestartedAt, time.Now().UTC().Format(time.RFC3339Nano))
	for _, name := range names {
		_, err := apps.Patch(ctx, name, k8stypes.StrategicMergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager})
		if err != nil {
			return fmt.Errorf("kubernetes: app %s: restarting %s: %w", app, name, err)
		}
	}
	return nil
}

// Delete removes the app's Deployments, Service, one-off pods and Secrets
// (everything labelled with the app); the garbage collector then removes
// the ReplicaSets and their pods. Pods stop with their grace period.
func (s *Scheduler) Delete(ctx context.Context, app string) error {
	if err := s.check(); err != nil {
		return err
	}
	ns := s.namespace()
	sel := metav1.ListOptions{LabelSelector: appSelector(app)}
	apps := s.Client.AppsV1().Deployments(ns)
	deps, err := apps.List(ctx, sel)
	if err != nil {
		return fmt.Errorf("kubernetes: app %s: listing deployments: %w", app, err)
	}
	for _, dep := range deps.Items {
		if err := deleteIgnoringMissing(ctx, apps.Delete, dep.Name); err != nil {
			return fmt.Errorf("kubernetes: app %s: deleting deployment %s: %w", app, dep.Name, err)
		}
	}
	svcs := s.Client.CoreV1().Services(ns)
	svcList, err := svcs.List(ctx, sel)
	if err != nil {
		return fmt.Errorf("kubernetes: app %s: listing services: %w", app, err)
	}
	for _, svc := range svcList.Items {
		if err := deleteIgnoringMissing(ctx, svcs.Delete, svc.Name); err != nil {
			return fmt.Errorf("kubernetes: app %s: deleting service %s: %w", app, svc.Name, err)
		}
	}
	// One-off pods have no controller whose deletion would take them
	// along: they are deleted here, with their grace period.
	pods := s.Client.CoreV1().Pods(ns)
	podList, err := pods.List(ctx, sel)
	if err != nil {
		return fmt.Errorf("kubernetes: app %s: listing pods: %w", app, err)
	}
	for _, p := range podList.Items {
		if metav1.GetControllerOf(&p) != nil {
			continue
		}
		if err := deleteIgnoringMissing(ctx, pods.Delete, p.Name); err != nil {
			return fmt.Errorf("kubernetes: app %s: deleting one-off pod %s: %w", app, p.Name, err)
		}
	}
	secrets := s.Client.CoreV1().Secrets(ns)
	secList, err := secrets.List(ctx, sel)
	if err != nil {
		return fmt.Errorf("kubernetes: app %s: listing secrets: %w", app, err)
	}
	for _, sec := range secList.Items {
		if err := deleteIgnoringMissing(ctx, secrets.Delete, sec.Name); err != nil {
			return fmt.Errorf("kubernetes: app %s: deleting secret %s: %w", app, sec.Name, err)
		}
	}
	return nil
}

// releaseOf is a pod's or Deployment's release label, 0 when missing.
func releaseOf(labels map[string]string) int {
	n, _ := strconv.Atoi(labels[LabelRelease])
	return n
}
