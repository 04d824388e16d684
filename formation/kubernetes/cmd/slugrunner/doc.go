// Command slugrunner starts a dyno inside a container: it downloads the
// app's slug, verifies its digest, unpacks it into /app, and runs the
// process type's command there the way a Heroku dyno does.
//
// Usage:
//
//	slugrunner [-app-dir /app] [--] COMMAND
//
// COMMAND is a Procfile command line, run with bash -c. The environment
// must hold:
//
//	SLUG_URL     http(s) URL of the slug (a gzipped tar of ./app)
//	SLUG_DIGEST  its "SHA256:<hex>" digest; the download is refused when
//	             the bytes differ. Empty skips the check (with a warning).
//
// Every other variable is passed to the command unchanged, plus HOME (the
// app directory, /app as on Heroku) and DYNO when it is not set: the
// process type (DYNOKIT_PROCESS_TYPE) and the last part of the pod's name
// (DYNOKIT_POD_NAME), e.g. "web.x7k2p".
//
// Before the command, bash sources every readable .profile.d/*.sh of the
// app and then .profile, in the app directory, as Heroku's dyno manager
// does, so buildpacks can set PATH and friends.
//
// slugrunner does not exec the command: it stays its parent, which makes
// it the container's PID 1. It runs bash in a process group of its own and
// forwards SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to the
// whole group, because Kubernetes signals only PID 1 while Heroku sends
// SIGTERM to every process of a dyno; and it reaps orphaned processes, PID
// 1's other duty. It exits when the command's bash does, with its status
// (128+n when killed by signal n); the kernel then kills whatever is left
// in the container.
//
// The download is retried (5 attempts, 1 s apart, then doubling) so a pod
// that starts before the slug server is reachable does not crash at once.
// The unpacking is slug.ExtractRoot, which refuses absolute names, "..",
// links out of the tree, devices and archives beyond the slug limits.
package main
