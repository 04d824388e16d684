package nomad_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation/formationtest"
)

// helperVar switches the test binary into a web app that runs inside
// dynos (the binary is copied into the test's slug): it serves on $PORT
// until SIGTERM.
const helperVar = "NOMAD_TEST_HELPER"

func TestMain(m *testing.M) {
	formationtest.DynoMain() // the scheduler suite's dynos run this binary
	if mode := os.Getenv(helperVar); mode != "" {
		if mode != "http" {
			fmt.Fprintf(os.Stderr, "unknown %s=%q\n", helperVar, mode)
			os.Exit(2)
		}
		os.Exit(serveHelper())
	}
	code := m.Run()
	agents.Stop()
	os.Exit(code)
}

func serveHelper() int {
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s in %s", os.Getenv("DYNO"), os.Getenv("NOMAD_ALLOC_ID"))
	})}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	go func() {
		<-term
		fmt.Println("got SIGTERM, shutting down")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	fmt.Println("listening")
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
