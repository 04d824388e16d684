// Package gitpush is minipaas's git server: an http.Handler that serves git
// smart HTTP for /<app>.git/... by running the real git http-backend through
// net/http/cgi, and that turns a push to main or master into a deploy whose
// output the pushing client sees live as "remote:" lines, Heroku style.
//
// # Requests
//
// Every request needs HTTP basic auth whose password is the API key
// (Handler.Token, compared in constant time, or one Handler.Authenticate
// accepts); the user name is ignored, as on
// Heroku, so both http://:KEY@host/app.git and a credential helper work. A
// missing or wrong key gets 401 with WWW-Authenticate, which git reports as
// "Authentication failed". App names follow Heroku's rule
// (ValidateAppName); a bad name gets 400 and git shows the reason as a
// "remote:" line. The repository of an app, Root/<app>.git, is created by the
// first push if Handler.AppExists allows the app (404 "app not found"
// otherwise); fetches and clones of a missing repository get 404. POST bodies
// are bounded by MaxPushBytes (413). net/http/cgi rejects chunked bodies and
// git sends requests over 1 MiB chunked, so those are spooled to an unlinked
// temporary file first.
//
// # The deploy hook
//
// git receive-pack runs hooks/pre-receive after it has received the objects
// (kept in a quarantine directory) and before it moves any ref; what the hook
// prints goes to the client over the side-band as "remote:" lines, and a
// non-zero exit rejects the whole push with "pre-receive hook declined". So the
// deploy runs "inside" that hook, but in the Go process, through a per-push
// channel:
//
//  1. For each POST .../git-receive-pack the handler creates a private
//     directory (mode 0700) holding two fifos, request and output, opens both
//     read-write (which does not block), and passes the directory to git
//     http-backend in the environment variable DYNOKIT_GITPUSH_CHANNEL, which
//     git hands down to the hook. The directory is the secret: only this
//     process's user can open it, and it lives only as long as the request.
//  2. The hook (a short sh script using only cat, installed in every
//     repository and refreshed on every push) opens output for reading first,
//     then writes to request the quarantine paths (GIT_OBJECT_DIRECTORY and
//     friends), a blank line, git's "<old> <new> <ref>" lines and "end". It
//     then copies output to its stdout until EOF and exits 0 only if the file
//     status in the directory reads 0.
//  3. The Go side reads the request, applies the push policy, calls
//     Handler.Deploy with Output writing to the output fifo, writes the
//     status file and only then closes output. When git http-backend exits,
//     the handler closes both fifos (which unblocks a hook side that never
//     got a request, e.g. an empty push) and removes the directory.
//
// A push that reaches a repository some other way (a local push into the bare
// repository) finds no channel, and the hook rejects it.
//
// Policy: an update of refs/heads/main or refs/heads/master is deployed; an
// update of any other ref is accepted without a deploy (with a note to the
// client); deleting the deploy branch, or pushing main and master together,
// is rejected. Deploy's context is the request's, so a client that goes away
// cancels the deploy; Deploy must return promptly when it is cancelled.
//
// DeployRequest.Export checks the pushed revision out into a directory for
// the build; it sees the quarantined objects. After the push, Export does the
// same from the repository.
//
// # Concurrent pushes
//
// One receive-pack runs per app at a time, ref update included: a push that
// arrives while another push to the same app is running is rejected by its
// hook with "another push to <app> is in progress; push again when it has
// finished" (git: "pre-receive hook declined"). Waiting instead would deploy
// a revision based on a ref that the first push is about to move.
package gitpush
