package kubernetes

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	"github.com/dynokit/dynokit/formation"
)

// Labels and annotations dynokit puts on the objects it manages.
const (
	LabelApp       = "dynokit.dev/app"
	LabelType      = "dynokit.dev/type"
	LabelRelease   = "dynokit.dev/release"
	AnnotationSize = "dynokit.dev/size"
	// AnnotationRestartedAt on a pod template is what Restart changes, as
	// kubectl rollout restart does with kubectl.kubernetes.io/restartedAt.
	AnnotationRestartedAt = "dynokit.dev/restartedAt"

	labelName      = "app.kubernetes.io/name"
	labelManagedBy = "app.kubernetes.io/managed-by"
	managedBy      = "dynokit"
)

// FieldManager is the server-side apply field manager of every change this
// package makes.
const FieldManager = "dynokit"

// containerName is the one container of a dyno's pod.
const containerName = "dyno"

// appVolume is the emptyDir the slug is unpacked into, mounted at /app.
const appVolume = "app"

// Names of the objects of an app.

// DeploymentName is the name of the Deployment running process type typ
// of app: "<app>-<type>". A type that is not a valid DNS label as it is
// (upper case, '_') is lower-cased with '_' turned into '-', and a short
// hash of the original keeps "Worker" and "worker" apart.
func DeploymentName(app, typ string) string {
	clean := strings.ToLower(strings.ReplaceAll(typ, "_", "-"))
	if clean != typ {
		sum := sha256.Sum256([]byte(typ))
		clean += "-" + hex.EncodeToString(sum[:3])
	}
	return app + "-" + clean
}

// ServiceName is the name of the Service in front of app's web dynos.
func ServiceName(app string) string { return app + "-web" }

// secretName names the Secret holding one release's config vars; the
// content hash lets a release whose config vars differ from an earlier
// Apply of the same release number get a Secret of its own, since Secrets
// are immutable.
func secretName(app string, release int, data map[string]string) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(data)) {
		fmt.Fprintf(h, "%s=%s\x00", k, data[k])
	}
	return fmt.Sprintf("%s-env-v%d-%s", app, release, hex.EncodeToString(h.Sum(nil))[:10])
}

// appSelector selects the objects dynokit manages for app.
func appSelector(app string) string {
	return LabelApp + "=" + app + "," + labelManagedBy + "=" + managedBy
}

// appLabels are on every object of an app.
func appLabels(app string) map[string]string {
	return map[string]string{
		labelName:      app,
		labelManagedBy: managedBy,
		LabelApp:       app,
	}
}

// configVars turns Deployment.Env into the Secret's data: later entries
// win, and DYNO is dropped because the dyno's own name must win (PORT is
// set on the container, which takes precedence over envFrom).
func configVars(env []string) (map[string]string, error) {
	data := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("kubernetes: env entry %q is not KEY=VALUE", kv)
		}
		if k == "DYNO" {
			continue
		}
		data[k] = v
	}
	return data, nil
}

func (s *Scheduler) secret(d formation.Deployment, name string, data map[string]string) *corev1ac.SecretApplyConfiguration {
	labels := appLabels(d.App)
	labels[LabelRelease] = strconv.Itoa(d.Release)
	return corev1ac.Secret(name, s.namespace()).
		WithLabels(labels).
		WithImmutable(true).
		WithType(corev1.SecretTypeOpaque).
		WithData(bytesData(data))
}

// bytesData is data as Secret.data. Not stringData: the server folds it
// into data, so server-side apply would not own what it sent.
func bytesData(data map[string]string) map[string][]byte {
	b := make(map[string][]byte, len(data))
	for k, v := range data {
		b[k] = []byte(v)
	}
	return b
}

// dynoContainer is the one container of every dyno pod, Deployment or
// one-off: slugrunner running command from the slug, with the config vars
// from secret.
func (s *Scheduler) dynoContainer(d formation.Deployment, typ, command, secret string, res formation.Resources) *corev1ac.ContainerApplyConfiguration {
	c := corev1ac.Container().
		WithName(containerName).
		WithImage(s.Image).
		WithCommand(s.runner()).
		WithArgs("--", command).
		WithEnv(
			corev1ac.EnvVar().WithName("SLUG_URL").WithValue(d.Slug.URL),
			corev1ac.EnvVar().WithName("SLUG_DIGEST").WithValue(d.Slug.Digest),
			corev1ac.EnvVar().WithName("DYNOKIT_PROCESS_TYPE").WithValue(typ),
			corev1ac.EnvVar().WithName("DYNOKIT_POD_NAME").WithValueFrom(
				corev1ac.EnvVarSource().WithFieldRef(corev1ac.ObjectFieldSelector().WithFieldPath("metadata.name"))),
		).
		WithEnvFrom(corev1ac.EnvFromSource().WithSecretRef(corev1ac.SecretEnvSource().WithName(secret))).
		WithVolumeMounts(corev1ac.VolumeMount().WithName(appVolume).WithMountPath("/app")).
		WithSecurityContext(corev1ac.SecurityContext().WithAllowPrivilegeEscalation(false))
	limits, requests := corev1.ResourceList{}, corev1.ResourceList{}
	if m := res.MemoryBytes; m > 0 {
		// Requests equal to limits: a dyno's memory is reserved, as on
		// Heroku, so the scheduler never overcommits a node with it.
		q := *resource.NewQuantity(m, resource.BinarySI)
		limits[corev1.ResourceMemory], requests[corev1.ResourceMemory] = q, q
	}
	if sh := res.CPUShares; sh > 0 {
		// A request only: the kubelet gives the container cpu.shares of
		// the request, so it weighs what a local or OCI dyno does, and no
		// CFS quota throttles it when the node is idle (Heroku's shared
		// sizes burst too).
		requests[corev1.ResourceCPU] = *resource.NewMilliQuantity(cpuMillis(sh), resource.DecimalSI)
	}
	if len(limits) > 0 || len(requests) > 0 {
		rr := corev1ac.ResourceRequirements()
		if len(limits) > 0 {
			rr.WithLimits(limits)
		}
		c.WithResources(rr.WithRequests(requests))
	}
	return c
}

// cpuMillis is the CPU request in millicores whose kubelet cpu.shares
// (milli*1024/1000, rounded down) is shares, or one more where no request
// maps exactly: 1024 shares (standard-1X) is 1000m, one CPU.
func cpuMillis(shares int64) int64 {
	return (shares*1000 + 1023) / 1024
}

// podSpec is the spec of every dyno pod around its container c.
func podSpec(d formation.Deployment, c *corev1ac.ContainerApplyConfiguration) *corev1ac.PodSpecApplyConfiguration {
	return corev1ac.PodSpec().
		WithContainers(c).
		WithVolumes(corev1ac.Volume().WithName(appVolume).WithEmptyDir(corev1ac.EmptyDirVolumeSource())).
		WithTerminationGracePeriodSeconds(int64(cmp.Or(d.Grace, formation.DefaultGrace) / time.Second)).
		// Apps see their config vars, not the cluster: no API token, no
		// Docker-link variables for every Service in the namespace.
		WithAutomountServiceAccountToken(false).
		WithEnableServiceLinks(false)
}

// dynoLabels are on a dyno pod (and its Deployment).
func dynoLabels(d formation.Deployment, typ string) map[string]string {
	labels := appLabels(d.App)
	labels[LabelType] = typ
	labels[LabelRelease] = strconv.Itoa(d.Release)
	return labels
}

// deployment is the Deployment of one process type.
func (s *Scheduler) deployment(d formation.Deployment, typ string, p formation.ProcessSpec, secret string) *appsv1ac.DeploymentApplyConfiguration {
	selector := map[string]string{LabelApp: d.App, LabelType: typ}
	labels := dynoLabels(d, typ)
	c := s.dynoContainer(d, typ, p.Command, secret, p.Resources)
	if typ == "web" {
		port := int32(s.port())
		c.WithEnv(corev1ac.EnvVar().WithName("PORT").WithValue(strconv.Itoa(s.port())))
		c.WithPorts(corev1ac.ContainerPort().WithName("http").WithContainerPort(port).WithProtocol(corev1.ProtocolTCP))
		tcp := corev1ac.TCPSocketAction().WithPort(intstr.FromInt32(port))
		c.WithReadinessProbe(corev1ac.Probe().WithTCPSocket(tcp).WithPeriodSeconds(5))
		// Heroku's R10: a web dyno that does not bind $PORT within 60 s
		// of starting is killed (and the kubelet restarts it).
		c.WithStartupProbe(corev1ac.Probe().WithTCPSocket(tcp).WithPeriodSeconds(5).WithFailureThreshold(12))
	}
	tmpl := corev1ac.PodTemplateSpec().
		WithLabels(labels).
		WithSpec(podSpec(d, c))
	dep := appsv1ac.Deployment(DeploymentName(d.App, typ), s.namespace()).
		WithLabels(labels).
		WithSpec(appsv1ac.DeploymentSpec().
			WithReplicas(int32(p.Quantity)).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(selector)).
			WithTemplate(tmpl))
	if p.Size != "" {
		dep.WithAnnotations(map[string]string{AnnotationSize: p.Size})
		tmpl.WithAnnotations(map[string]string{AnnotationSize: p.Size})
	}
	return dep
}

// oneOffPod is the bare pod of one-off dyno name ("run.4821") running
// command: a dyno pod of type "run" that is never restarted, and killed
// by the kubelet after Scheduler.OneOffDeadline when that is set.
func (s *Scheduler) oneOffPod(d formation.Deployment, pod, name string, one formation.OneOffSpec, secret string) *corev1ac.PodApplyConfiguration {
	c := s.dynoContainer(d, OneOffType, one.Command, secret, one.Resources)
	// slugrunner would derive the same name from the pod's; set it
	// anyway so the dyno's name does not depend on the runner's version.
	c.WithEnv(corev1ac.EnvVar().WithName("DYNO").WithValue(name))
	if one.Stdin != nil {
		// Attached (heroku run): the process reads the stdin the attach
		// API gives it, which closes for good when the client detaches
		// (stdinOnce), so the process sees EOF as under a pipe. Without a
		// Terminal stdout and stderr stay apart and no terminal is
		// emulated; with one the container runtime gives the process a
		// TTY (stderr goes with stdout), sized by the attach.
		c.WithStdin(true).WithStdinOnce(true)
		if one.Terminal != nil {
			c.WithTTY(true)
		}
	}
	spec := podSpec(d, c).WithRestartPolicy(corev1.RestartPolicyNever)
	if s.OneOffDeadline > 0 {
		spec.WithActiveDeadlineSeconds(int64((s.OneOffDeadline + time.Second - 1) / time.Second))
	}
	return corev1ac.Pod(pod, s.namespace()).
		WithLabels(dynoLabels(d, OneOffType)).
		WithSpec(spec)
}

// service is the ClusterIP Service in front of the web dynos: port 80 to
// $PORT.
func (s *Scheduler) service(app string) *corev1ac.ServiceApplyConfiguration {
	return corev1ac.Service(ServiceName(app), s.namespace()).
		WithLabels(appLabels(app)).
		WithSpec(corev1ac.ServiceSpec().
			WithType(corev1.ServiceTypeClusterIP).
			WithSelector(map[string]string{LabelApp: app, LabelType: "web"}).
			WithPorts(corev1ac.ServicePort().
				WithName("http").
				WithProtocol(corev1.ProtocolTCP).
				WithPort(80).
				WithTargetPort(intstr.FromInt32(int32(s.port())))))
}
