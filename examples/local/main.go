// Command local runs an app's Procfile on this machine, like heroku local
// (and foreman): every process type of the Procfile, or the formation given
// as an argument, with the variables of .env, PORT from 5000 in steps of
// 100 per process type, and each output line prefixed with the time and
// the dyno name (coloured on a terminal).
//
//	go run ./examples/local [-C dir] [-f Procfile] [-e .env] [-p 5000] [-t 5s] [web=1,worker=2 | web worker]
//
// It reads the Procfile with package procfile and .env with
// procfile/dotenv (as heroku local reads them), and runs the processes on
// formation's Reconciler and local runtime (local.Runtime.InPlace: in the
// current directory itself, with the user's environment plus .env, PORT
// and DYNO). When a process exits by itself, everything is stopped
// (SIGTERM, the grace period -t, then SIGKILL) and local exits with that
// process's status; Ctrl-C stops everything the same way and exits 0.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.Getwd()
	if err != nil {
		os.Stderr.WriteString("local: " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Exit(run(ctx, os.Args[1:], dir, os.Stdout, os.Stderr, isTerminal(os.Stdout)))
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
