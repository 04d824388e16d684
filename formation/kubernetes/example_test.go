package kubernetes_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/kubernetes"
)

// Deploying an app and scaling it. It needs a cluster, so it is compiled
// but not run.
func Example() {
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		log.Fatal(err)
	}
	client, err := k8s.NewForConfig(cfg)
	if err != nil {
		log.Fatal(err)
	}
	s := &kubernetes.Scheduler{
		Client:    client,
		Namespace: "apps",
		Image:     "registry.example/dynokit/stack:24", // with slugrunner
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = s.Apply(ctx, formation.Deployment{
		App:     "shop",
		Release: 7,
		Slug: formation.SlugSource{
			URL:    "http://slugs.apps.svc/slugs/5f2c0d3e9a6b1c47e8d0a2b4c6e8f0a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3",
			Digest: "SHA256:5f2c0d3e9a6b1c47e8d0a2b4c6e8f0a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3",
		},
		Env: []string{"DATABASE_URL=postgres://db.apps.svc/shop"},
		Processes: map[string]formation.ProcessSpec{
			"web":    {Command: "bundle exec puma -p $PORT", Quantity: 2, Resources: formation.Resources{MemoryBytes: 512 << 20}},
			"worker": {Command: "bundle exec sidekiq", Quantity: 1},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Scale(ctx, "shop", "worker", 3); err != nil {
		log.Fatal(err)
	}
	dynos, err := s.Dynos(ctx, "shop")
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range dynos {
		fmt.Println(d.Name, d.State, d.Addr)
	}
}

// Running the release phase of a new release as a one-off dyno before
// applying the release. It needs a cluster, so it is compiled but not run.
func ExampleScheduler_RunOneOff() {
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		log.Fatal(err)
	}
	client, err := k8s.NewForConfig(cfg)
	if err != nil {
		log.Fatal(err)
	}
	s := &kubernetes.Scheduler{
		Client:         client,
		Namespace:      "apps",
		Image:          "registry.example/dynokit/stack:24",
		OneOffDeadline: time.Hour,
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	release := formation.Deployment{
		App:     "shop",
		Release: 8,
		Slug:    formation.SlugSource{URL: "http://slugs.apps.svc/slugs/5f2c0d3e", Digest: "SHA256:5f2c0d3e9a6b1c47e8d0a2b4c6e8f0a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3"},
		Env:     []string{"DATABASE_URL=postgres://db.apps.svc/shop"},
		Processes: map[string]formation.ProcessSpec{
			"web": {Command: "bundle exec puma -p $PORT", Quantity: 2},
		},
	}
	dyno, err := s.RunOneOff(ctx, release, formation.OneOffSpec{Command: "bundle exec rake db:migrate"}, formation.Stdio{Stdout: os.Stdout})
	if err != nil {
		log.Fatal(err)
	}
	exit, err := dyno.Wait(ctx)
	if err != nil {
		// Gave up waiting: stop the dyno (SIGTERM, 30 s, SIGKILL).
		formation.Stop(context.Background(), dyno, 0)
		log.Fatal(err)
	}
	if exit.Code != 0 {
		log.Fatalf("release phase failed: %s", exit)
	}
	if err := s.Apply(ctx, release); err != nil {
		log.Fatal(err)
	}
}

// An attached one-off (heroku run): this program's stdin goes to the
// process, its stdout and stderr come back apart. Attaching needs the
// *rest.Config in Scheduler.Config. It needs a cluster, so it is compiled
// but not run.
func ExampleScheduler_RunOneOff_attached() {
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		log.Fatal(err)
	}
	client, err := k8s.NewForConfig(cfg)
	if err != nil {
		log.Fatal(err)
	}
	s := &kubernetes.Scheduler{
		Client:    client,
		Config:    cfg,
		Namespace: "apps",
		Image:     "registry.example/dynokit/stack:24",
	}
	ctx := context.Background()
	release := formation.Deployment{
		App:     "shop",
		Release: 8,
		Slug:    formation.SlugSource{URL: "http://slugs.apps.svc/slugs/5f2c0d3e", Digest: "SHA256:5f2c0d3e9a6b1c47e8d0a2b4c6e8f0a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3"},
	}
	dyno, err := s.RunOneOff(ctx, release,
		formation.OneOffSpec{Command: "bundle exec rails console", Stdin: os.Stdin},
		formation.Stdio{Stdout: os.Stdout, Stderr: os.Stderr})
	if err != nil {
		log.Fatal(err)
	}
	exit, err := dyno.Wait(ctx)
	if err != nil {
		log.Fatal(err)
	}
	os.Exit(exit.Code)
}

// The names of an app's objects.
func ExampleDeploymentName() {
	fmt.Println(kubernetes.DeploymentName("shop", "web"))
	fmt.Println(kubernetes.DeploymentName("shop", "my_worker"))
	fmt.Println(kubernetes.ServiceName("shop"))
	fmt.Println(kubernetes.DynoName("web", "shop-web-7d9b8f6c5-xk2jq"))
	// Output:
	// shop-web
	// shop-my-worker-5c9a0e
	// shop-web
	// web.xk2jq
}
