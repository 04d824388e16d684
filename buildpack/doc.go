// Package buildpack runs classic (Heroku "Cedar") buildpacks: it turns an
// app's source directory into a built tree ready to be packed into a slug,
// plus the process types, add-ons and default config vars the buildpacks
// declared.
//
// Reference buildpacks that need no network (Go, Node.js, static site,
// Procfile-only) are embedded in the builtin subpackage; buildpacktest
// has helpers and a conformance suite for CommandRunner implementations.
//
// # Vocabulary
//
// A buildpack is a directory with three executables (heroku.md §2.1):
//
//	bin/detect BUILD_DIR                    exit 0 and print a name: "this buildpack applies"
//	bin/compile BUILD_DIR CACHE_DIR ENV_DIR transform BUILD_DIR in place
//	bin/release BUILD_DIR                   optional; print YAML (ParseRelease)
//
// BUILD_DIR is the app (BuildInput.AppDir); everything in it afterwards
// becomes the slug. CACHE_DIR persists between builds of one app (Cache).
// ENV_DIR holds one file per config var, named after the var, holding its
// exact bytes; config vars are not exported to the scripts, which choose
// what to export. Scripts get a clean environment: PATH, HOME (a scratch
// directory deleted after the build), STACK, SOURCE_VERSION when known,
// or Builder.Env; nothing else of the platform's environment leaks in.
// The working directory is BUILD_DIR.
//
// # Lifecycle of a build
//
//  1. Fetch: Fetcher.Fetch turns a Source (a directory, a .tgz URL with an
//     optional sha256, or a git URL with #ref) into a local Buildpack,
//     cached on disk; concurrent fetches of one source download once.
//  2. Prepare: Builder.Build writes ENV_DIR, checks out a private copy of
//     the app's cache as CACHE_DIR, and copies each buildpack into a
//     scratch directory, so files a buildpack writes into its own
//     directory (export, notes for its bin/release) belong to this build.
//  3. Detect: with BuildInput.Detect, each candidate's bin/detect runs in
//     order and the first that passes is the only one to compile; a
//     non-zero exit is "no", not an error; ErrNoMatch only when none
//     passes. With BuildInput.Buildpacks (an explicit list), each must
//     detect, and each compiles in turn.
//  4. Compile: bin/compile's stdout and stderr are streamed line by line
//     to BuildInput.Output as they are written. A buildpack after the
//     first runs its bin/detect and bin/compile through bash, which first
//     sources the export files the earlier buildpacks left in their own
//     root (heroku.md §2.4), with the script's arguments as positional
//     parameters.
//  5. Release: only the last buildpack's bin/release runs, after every
//     export file (its own too), and only if it is executable (a warning
//     says when it is not); its YAML is parsed strictly (a wrong type is
//     a *ReleaseError naming the field, wrapped in an *Error naming the
//     buildpack).
//  6. Discover process types: the app's Procfile (parsed with the
//     procfile package) overrides the release's default_process_types;
//     Heroku's "Discovering process types" lines are printed.
//  7. Save: only after success does the build's CACHE_DIR replace the
//     app's cache (an atomic symlink swap). A failed, timed-out or
//     cancelled build leaves the previous cache untouched.
//
// The platform's own lines follow Heroku's conventions (heroku.md §2.2):
// "-----> " for steps, 7 spaces for details, " !     " for warnings.
//
// # Limits and containment
//
// Builder.Timeout bounds a whole build (default 15 minutes). When it
// expires, or ctx is cancelled, the running script's process group is
// killed with SIGKILL, and the build returns an *Error wrapping
// context.DeadlineExceeded or context.Canceled. Each script runs in its own
// process group; when a script exits, whatever it left running in its
// group is killed too, so a background process cannot hold the output
// open or outlive its phase. A process that leaves the group (setsid)
// and holds the output is cut off after LocalRunner.WaitDelay.
//
// Script output beyond Builder.MaxOutputBytes (default 16 MiB) is dropped
// after one notice line; the build goes on, and the platform's own lines
// are still written. Result.OutputDropped says how much was dropped.
//
// What is not contained: the local runner runs scripts as the platform's
// user, on the platform's filesystem. A hostile buildpack can write outside
// BUILD_DIR and CACHE_DIR, read what that user can read, and use the
// network. Only a sandbox stops that. Builder.Runner is the hook: a
// CommandRunner receives each script as a Command (phase, argv, env,
// directory, output writers) and can run it inside an OCI container (for
// example with formation/oci's runc bundles) that mounts only BUILD_DIR,
// CACHE_DIR, ENV_DIR and the buildpack directory. buildpacktest.RunnerSuite
// checks a runner against the contract Build relies on. No container
// runner ships yet.
//
// # .profile.d
//
// Buildpacks write start-up scripts to BUILD_DIR/.profile.d/*.sh (for
// example to put their runtime on PATH). They are left in the build tree
// and so end up in the slug; this package never runs them. The contract
// with the dyno runtime (formation) is heroku.md §2.5: at dyno start, after
// the config vars are in the environment, bash sources every
// /app/.profile.d/*.sh in lexical order, then runs the process command.
//
// # Deviations from the design sketch
//
// go-style.md §2.3 sketches Detector and Builder interfaces with one
// implementation per buildpack. Classic buildpacks differ only in their
// scripts, so there is one concrete Builder over Buildpack directories,
// and the interface sits where implementations really vary: the
// CommandRunner that runs a script (local process now, container later).
// The sketch's Runner (detect in order, build the first match) is
// Builder.Build with BuildInput.Detect.
package buildpack
