package formationtest_test

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/formationtest"
)

func TestFake(t *testing.T) {
	ctx := context.Background()
	f := &formationtest.Fake{}
	spec := formation.DynoSpec{ID: "a", Name: "web.1", Release: 1}
	d, err := f.Start(ctx, spec, formation.Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Start(ctx, spec, formation.Stdio{}); !errors.Is(err, formation.ErrExists) {
		t.Errorf("duplicate live ID: %v", err)
	}
	if f.LiveNamed("web.1", 1) == nil || f.LiveNamed("web.1", 2) != nil {
		t.Error("LiveNamed")
	}
	fd := f.Live()[0]
	fd.IgnoreTERM()
	exit, err := formation.Stop(ctx, d, 10*time.Millisecond)
	if err != nil || exit.Code != 137 || exit.Signal != syscall.SIGKILL {
		t.Errorf("Stop of a dyno ignoring TERM = %+v, %v", exit, err)
	}
	if got := fd.Signals(); len(got) != 2 || got[0] != syscall.SIGTERM || got[1] != syscall.SIGKILL {
		t.Errorf("signals = %v", got)
	}
	if err := d.Signal(ctx, syscall.SIGTERM); !errors.Is(err, formation.ErrExited) {
		t.Errorf("Signal after exit: %v", err)
	}
	if fd.Exit(1) {
		t.Error("Exit after exit reported true")
	}
	// The ID is free again; a plain dyno exits 143 on SIGTERM.
	d, err = f.Start(ctx, spec, formation.Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	if exit, _ := formation.Stop(ctx, d, time.Second); exit.Code != 143 {
		t.Errorf("Stop = %+v, want 143", exit)
	}
	if n := len(f.Started()); n != 2 {
		t.Errorf("Started = %d", n)
	}
	f.StartErr = func(formation.DynoSpec) error { return errors.New("boom") }
	if _, err := f.Start(ctx, formation.DynoSpec{ID: "b"}, formation.Stdio{}); err == nil {
		t.Error("StartErr ignored")
	}
	// Ready returns once marked.
	f.StartErr = nil
	d, _ = f.Start(ctx, formation.DynoSpec{ID: "c"}, formation.Stdio{})
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if err := f.Ready(short, formation.DynoSpec{ID: "c"}); err == nil {
		t.Error("Ready before MarkReady")
	}
	f.LiveNamed("", 0).MarkReady()
	if err := f.Ready(ctx, formation.DynoSpec{ID: "c"}); err != nil {
		t.Errorf("Ready after MarkReady: %v", err)
	}
	_, _ = formation.Stop(ctx, d, time.Second)
}

func TestBufferWaitFor(t *testing.T) {
	var b formationtest.Buffer
	go func() { _, _ = b.Write([]byte("hel")); _, _ = b.Write([]byte("lo\n")) }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.WaitFor(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel2()
	if err := b.WaitFor(short, "absent"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitFor absent: %v", err)
	}
}
