// Package builtin ships dynokit's reference classic buildpacks inside the
// binary (with embed), so a platform can build apps with no network:
//
//   - go: detects go.mod; builds every main package with the go on PATH
//     into BUILD_DIR/bin, keeping GOCACHE, GOMODCACHE and GOPATH in
//     CACHE_DIR so rebuilds are warm; GOTOOLCHAIN defaults to local. When
//     there is exactly one main package, bin/release declares
//     "web: bin/<name>". Config vars from ENV_DIR are exported first
//     (except PATH, GIT_DIR, CPATH, CPPATH, LD_PRELOAD, LIBRARY_PATH), so
//     GOPROXY or GOFLAGS can be set per app.
//   - nodejs: detects package.json; installs production dependencies with
//     the node and npm on PATH (npm ci with a package-lock.json, npm
//     install otherwise, nothing when there are none; npm's cache in
//     CACHE_DIR), runs the "build" script if any, and writes
//     .profile.d/nodejs.sh to put node_modules/.bin on PATH. Declares
//     "web: npm start" when package.json has a start script. Unlike
//     Heroku's, it does not vendor Node.js into the slug: dynos run the
//     node on their own PATH.
//   - static: detects index.html or static.json at the app root; compiles
//     a small Go file server (static/server, also built by go vet as an
//     ordinary package) into BUILD_DIR/bin/dynokit-static and declares
//     "web: bin/dynokit-static". The server serves static.json's "root"
//     (default: the app root) on $PORT and never serves dot-paths. A
//     compiled server was chosen over python3 -m http.server so the slug
//     needs no interpreter at run time.
//   - procfile: detects a Procfile; compile does nothing. For apps whose
//     commands need no build step.
//
// Write materialises one of them in a directory (embed drops file modes;
// Write makes bin/* executable again); WriteAll returns all of them in
// detection order for buildpack.BuildInput.Detect.
package builtin
