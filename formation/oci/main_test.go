package oci_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// helperVar switches the test binary into a helper program that runs inside
// dynos (the binary is copied into the test's slug): "http" serves on $PORT
// until SIGTERM, "spawn N" starts N sleeping children and reports how many
// the kernel allowed.
const helperVar = "OCI_TEST_HELPER"

func TestMain(m *testing.M) {
	switch mode := os.Getenv(helperVar); mode {
	case "":
		os.Exit(m.Run())
	case "http":
		os.Exit(serveHelper())
	case "spawn":
		os.Exit(spawnHelper())
	default:
		fmt.Fprintf(os.Stderr, "unknown %s=%q\n", helperVar, mode)
		os.Exit(2)
	}
}

func serveHelper() int {
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s uid %d pid %d", os.Getenv("DYNO"), os.Getuid(), os.Getpid())
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

func spawnHelper() int {
	n, _ := strconv.Atoi(os.Getenv("SPAWN"))
	var cmds []*exec.Cmd
	var firstErr error
	for range n {
		c := exec.Command("sleep", "30")
		if err := c.Start(); err != nil {
			firstErr = err
			break
		}
		cmds = append(cmds, c)
	}
	fmt.Printf("started %d of %d\n", len(cmds), n)
	if firstErr != nil {
		fmt.Printf("error: %v\n", firstErr)
	}
	for _, c := range cmds {
		_ = c.Process.Kill()
		_ = c.Wait()
	}
	return 0
}
