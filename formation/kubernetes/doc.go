// Package kubernetes is a formation.Scheduler that runs each app's
// formation on a Kubernetes cluster: a Deployment per process type, a
// Service for web, the config vars in a Secret, and the slug fetched by
// each pod at start by slugrunner. Kubernetes owns placement, replica
// counts, restarts and back-off; no formation.Reconciler sits in front.
//
// It is a module of its own (github.com/dynokit/dynokit/formation/kubernetes)
// because k8s.io/client-go brings about 40 modules and 350 packages that
// most users of dynokit never need; importing dynokit does not download
// them. It uses client-go v0.35 (Kubernetes 1.35), the newest release whose
// go.mod asks for Go 1.25, so programs one Go release behind can import it;
// the tests run against kube-apiserver 1.36, within client-go's supported
// skew of one minor version either way.
//
// # What Apply creates
//
// Everything lives in Scheduler.Namespace and carries the labels
// app.kubernetes.io/name=<app>, app.kubernetes.io/managed-by=dynokit and
// dynokit.dev/app=<app>; Apply, Dynos and Delete select by the last two.
// Changes are made with server-side apply, field manager "dynokit" with
// force, so applying the same Deployment twice writes nothing, and a field
// someone changed by hand is set back. Every object is first applied as a
// dry run, so one the API server refuses stops Apply before anything is
// written.
//
//   - Secret "<app>-env-v<release>-<hash>": the config vars (Env, later
//     entries winning, DYNO dropped), immutable. The content hash gives a
//     release re-applied with other config vars a new Secret rather than a
//     failed update. After the Deployments are applied, the app's Secrets
//     are deleted except the new one and the one the Deployments used
//     before (pods of the previous rollout may still restart).
//   - Deployment DeploymentName(app, type), "<app>-<type>", per process
//     type, labelled also dynokit.dev/type and dynokit.dev/release:
//     replicas = quantity; selector app and type (not release, so a new
//     release is a rolling update of the same Deployment); pod template
//     with the release label, so every release replaces the pods as on
//     Heroku; annotation dynokit.dev/size when Size is set. One container
//     "dyno": Image, command Runner, args "--" and the Procfile command;
//     env SLUG_URL, SLUG_DIGEST, DYNOKIT_PROCESS_TYPE, DYNOKIT_POD_NAME
//     (downward API) and, for web, PORT (Scheduler.Port, 5000); envFrom the
//     Secret (env wins over it); memory limit and request both
//     Resources.MemoryBytes; a CPU request (no limit) of
//     Resources.CPUShares x 1000/1024 millicores, rounded up, so 1024
//     shares (standard-1X) request one CPU and the kubelet's cpu.shares
//     for the container, milli x 1024/1000, is CPUShares again (within
//     one share); an emptyDir mounted at /app for the slug;
//     allowPrivilegeEscalation false. Web gets a container port "http", a
//     TCP readiness probe on $PORT and a TCP startup probe that gives up
//     after 60 s (Heroku's R10 boot timeout; the kubelet then restarts the
//     container). terminationGracePeriodSeconds is Grace (30 s by
//     default): Kubernetes's SIGTERM-then-SIGKILL is Heroku's shutdown.
//     No service-account token and no service-link variables: a dyno sees
//     its config vars, not the cluster.
//   - Service ServiceName(app), "<app>-web", ClusterIP, port 80 to $PORT,
//     selecting the web pods, when the app has a web type.
//
// Types left out of a Deployment lose their Deployment (and web its
// Service). An object of one of these names that exists without the app's
// labels is not taken over: Apply fails. The API server validates
// everything: an app name that is not a DNS label, a config var name that
// is not a valid Secret key, a process type that is not a valid label
// value come back as its Invalid error (apierrors.IsInvalid), from the dry
// run.
//
// Scale writes the Deployment's scale subresource (as kubectl scale);
// the next Apply sets the quantity of the Deployment again. Restart sets
// the pod-template annotation dynokit.dev/restartedAt (as kubectl rollout
// restart), which later Applies leave alone. Delete removes the app's
// Deployments, Service and Secrets with background propagation: the
// garbage collector removes the ReplicaSets and pods, which stop with
// their grace period.
//
// # The stack image and slugrunner
//
// Pods run Scheduler.Image, a stack image that must contain bash (in /bin
// or /usr/bin), CA certificates if slugs are served over https, whatever
// the apps' buildpacks expect of the OS (Heroku's stack images are the
// reference), and slugrunner (cmd/slugrunner in this module) at
// Scheduler.Runner, /usr/local/bin/slugrunner by default. It should run as
// a non-root user; the /app emptyDir is writable by any. slugrunner
// downloads SLUG_URL, verifies SLUG_DIGEST while unpacking with
// slug.ExtractRoot into /app (so hostile archives are refused as
// everywhere in dynokit), sources .profile.d/*.sh and .profile, and runs
// the command with bash -c, HOME=/app and DYNO set. It stays the
// container's PID 1, forwarding signals to the command's whole process
// group (Heroku signals every process of a dyno; Kubernetes only PID 1) and
// reaping orphans. No image can be built where this package is tested;
// this Dockerfile, run from the root of the dynokit repository, makes one:
//
//	FROM golang:1.25-bookworm AS build
//	WORKDIR /src
//	COPY . .
//	RUN cd formation/kubernetes && CGO_ENABLED=0 go build -trimpath -o /slugrunner ./cmd/slugrunner
//
//	# Any Debian-like OS with bash; heroku/heroku:24 for buildpack apps.
//	FROM debian:bookworm-slim
//	RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
//	COPY --from=build /slugrunner /usr/local/bin/slugrunner
//	USER 10001:10001
//
// The slug URL must be reachable from the pods (slug.Handler behind a
// Service or an ingress, or object storage).
//
// # Dynos
//
// Dynos lists the app's pods. A Deployment's pods have no ordinal, so a
// dyno is named after its type and the random suffix of its pod's name,
// "web.x7k2p" (DynoName), which stays the same for the pod's life;
// slugrunner sets DYNO to the same name. DynoOf gives the states: a pod
// being deleted is down; a failed (evicted) or unknown pod, a container
// waiting after a restart or for a reason it cannot leave by itself
// (CrashLoopBackOff, ImagePullBackOff, CreateContainerConfigError, ...)
// is crashed, with RestartAt estimated from the kubelet's back-off; a
// running, ready container is up; anything else is starting. A web
// dyno's Addr is its pod IP and port from the Service's EndpointSlices,
// reachable from inside the cluster network.
//
// FollowLogs watches the app's pods and follows each one's log through
// the pod log API; stdout and stderr arrive interleaved as the kubelet
// stores them, so they all go to Stdio.Stdout.
//
// # One-off dynos
//
// RunOneOff (formation.OneOffRunner: heroku run, and the release phase,
// which must run where the app runs) creates a bare pod "<app>-run-<N>",
// N random from 1000 to 9999 as in Heroku's run.4821, another N when the
// name is taken. It is built by the same code as the Deployments' pod
// template: same labels with dynokit.dev/type=run, image, slugrunner
// with the command, slug variables, config-var Secret, /app emptyDir,
// grace period and no service-account token; plus restartPolicy Never,
// DYNO=run.N, no port or probe, the memory limit of OneOffSpec.Resources,
// and activeDeadlineSeconds when Scheduler.OneOffDeadline is set.
// RunOneOff applies the release's Secret itself (the same immutable
// object Apply would), so the release phase can run before the release is
// applied. The pod is created, not applied: server-side apply would take
// over another one-off that got the same name.
//
// The returned OneOff watches its pod. Once the container of a detached
// one-off (no OneOffSpec.Stdin: heroku run:detached, the release phase)
// runs, its log is followed through the pod log API to Stdio.Stdout
// (stdout and stderr interleaved, as for FollowLogs), reopened from the
// last line after a cut, and read one last time after the container
// ended.
//
// An attached one-off (heroku run: OneOffSpec.Stdin set) has stdin: true
// and stdinOnce: true on its container, and tty: true when
// OneOffSpec.Terminal is set (then the attach asks for a TTY, sends the
// terminal's size first and carries one output stream, to Stdio.Stdout;
// Stdin is keystrokes for the container's terminal). Once the container runs,
// the OneOff attaches to it through the API server's pod attach API
// (pods/{name}/attach with stdin, stdout and stderr; the API server
// proxies it to the kubelet's /attach/{namespace}/{pod}/{container}):
// OneOffSpec.Stdin is streamed to the process and its stdout and stderr,
// kept apart, to Stdio.Stdout and Stdio.Stderr. When Stdin returns EOF the
// container's stdin closes for good (stdinOnce), as a pipe would. The
// connection is client-go's tools/remotecommand: WebSocket (the v5
// channel protocol, which the API server translates to SPDY for the
// kubelet) and SPDY when the API server refuses the WebSocket upgrade, as
// kubectl does. client-go builds it from a *rest.Config, not from a
// kubernetes.Interface, so attached one-offs need Scheduler.Config (the
// config Client was made from); without it RunOneOff refuses them. Output
// the process writes before the attach is made is only in the pod log. An
// attach that fails before any output came through it (the container
// ended first, say) falls back to copying the log to Stdio.Stdout. A Stdin
// that never returns EOF keeps client-go's goroutine reading it after the
// one-off ended. Wait returns the
// container's terminated state as formation.Exit: the exit code, the
// signal when the code is 128+n (or the kubelet reports one), OOMKilled
// for the reason "OOMKilled"; a pod deleted or failed without a
// terminated container (force-deleted, evicted before it started) counts
// as killed by SIGKILL. After that the pod is deleted: nothing is left
// behind, as on Heroku. Kubernetes signals a pod only by deleting it, so
// Signal knows SIGTERM (delete with the pod's grace period; the kubelet
// sends SIGTERM, then SIGKILL) and SIGKILL (delete with grace 0), and
// refuses the others; Stop deletes the pod with the grace it is given and
// waits. Delete removes the app's one-off pods with the rest, and Apply
// keeps every Secret a pod of the app that has not ended reads, so a
// one-off of an older release (or with other config vars) keeps its
// Secret until it is over. An Apply that lists the pods just before a
// one-off's pod is created may still delete its Secret: when the kubelet
// then reports CreateContainerConfigError, the OneOff applies the Secret
// again and the kubelet's next attempt finds it.
//
// # Permissions
//
// The Scheduler needs, in its namespace: get, list, create, patch and
// delete on deployments, secrets and services; get and update on
// deployments/scale; get, list, watch, create and delete on pods, get on
// pods/log, and list on endpointslices.discovery.k8s.io; attached one-offs
// also need create and get on pods/attach (POST for SPDY, GET for
// WebSocket).
//
// # Testing
//
// The tests start etcd (Debian's etcd-server) and a kube-apiserver built
// from source (scripts/install-kube-apiserver; DYNOKIT_KUBE_APISERVER names
// the binary) on loopback ports, with a generated service-account key and
// a static token. There is no controller manager, scheduler or kubelet:
// Deployments never get ReplicaSets, pods never start, and the tests check
// what the API server stores. They read back every object Apply creates
// (the fields the "dynokit" manager owns, against golden files, and the
// intent field by field), new releases, scaling through the subresource,
// type removal, Delete, objects of other owners, the server's validation,
// Restart, one-off pods (against a golden file too), and run the
// formationtest scheduler suite with its API-only
// options (the cases that need running dynos skip). Dynos' mapping and
// FollowLogs's pod discovery are tested with pods and EndpointSlices the
// tests create by hand with the status a kubelet would report; the log
// streams go through the API server's pod log API to a Node whose kubelet
// endpoint is a small HTTPS server of the test's (a container restart,
// the reopened stream and its repeated lines included). One-offs are
// driven the same way: the test reports their container running, then
// terminated (exit 0, 3, 137 OOMKilled, 143), binds them to a Node so
// deletion is graceful, finishes a graceful deletion as a kubelet does,
// and serves their log. An attached one-off goes through the API server's
// pod attach API to that stand-in kubelet, which serves /attach with the
// kubelet's own streaming server (k8s.io/kubelet/pkg/cri/streaming, a
// test-only dependency) in front of a stand-in process: it echoes stdin
// to stdout with a prefix, writes a line to stderr when stdin closes and
// reports its container terminated with exit code 3. The test checks the
// streams, the exit, the pod's removal, the URL and query the kubelet got
// and that the client spoke WebSocket to the API server. Without
// DYNOKIT_KUBE_APISERVER or etcd they skip, unless DYNOKIT_TEST_REQUIRE=1.
//
// The same suite runs against a real cluster with DYNOKIT_KUBECONFIG set
// to a kubeconfig (its current context; every test uses a namespace of its
// own and deletes it), and then also the conformance cases that need
// running dynos. Those need DYNOKIT_KUBE_IMAGE, a stack image as above
// that the cluster can pull, and DYNOKIT_KUBE_SLUG_ADDR, a host:port of the
// test machine the pods can reach, where the test serves its slug (the
// test binary itself, so build it static), and the test machine must reach
// pod IPs:
//
//	CGO_ENABLED=0 DYNOKIT_KUBECONFIG=$HOME/.kube/config \
//	  DYNOKIT_KUBE_IMAGE=registry.example/dynokit/stack:1 \
//	  DYNOKIT_KUBE_SLUG_ADDR=10.0.0.5:0 go test ./...
//
// That mode has not been run yet (no cluster here), and the suite's
// Dynos and CrashRestarted cases expect dyno names "web.1", "web.2", ...,
// which Deployments cannot give (see below).
//
// # What is left
//
//   - Ordinal dyno names. The formation conformance suite names dynos
//     "<type>.<n>" as Heroku does, with DYNO to match; pods of a
//     Deployment have no stable ordinal. A StatefulSet per type (with
//     spec.ordinals.start 1 and Parallel pod management) would give
//     web.1…web.n, at the cost of rolling updates without surge and
//     rollouts that stop at a pod that never gets ready.
//   - CPU limits. A limit would be a CFS quota that throttles a dyno even
//     on an idle node, which Heroku's shared sizes do not do (they burst).
//     Dedicated sizes (performance-*) would want limit = request with the
//     kubelet's static CPU manager (exclusive cores for Guaranteed pods),
//     but Resources does not say which sizes are dedicated. The request
//     also reserves node capacity: a standard-1X takes a whole CPU of a
//     node's allocatable, so a cluster that packs shared dynos densely
//     should give its sizes fewer shares.
//   - Resources.PIDs has no per-container equivalent (the kubelet's
//     pod-PID limit is node-wide) and is ignored.
//   - The attach (with or without a terminal) has been tested against a
//     stand-in kubelet only (the kubelet's own streaming code serving a
//     local process), not a real kubelet and container runtime. A
//     terminal's size is sent once; resizes are not passed on.
//   - A one-off whose container cannot start (image pull errors, a
//     missing image) waits, as the kubelet retries, until Stop or
//     OneOffDeadline.
//   - The OneOff's watch runs for the dyno's life in a goroutine of its
//     own, not tied to RunOneOff's context; it ends with the pod.
//   - Preboot: the Deployment's default rolling update (25% surge, 25%
//     unavailable) is used; maxUnavailable 0 would be closer.
//   - Image pull secrets, node selectors, tolerations, priority classes.
package kubernetes
