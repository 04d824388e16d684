package platform

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// reapOrphanDynos kills the dynos a previous platform process left running
// when it died without stopping them (SIGKILL, a panic): their processes
// keep running in their own process groups, holding ports and CPU, and no
// Reconciler knows them any more. They are found by working directory,
// which the local runtime places under base, and killed with their process
// group; then the stale dyno directories are removed. It needs /proc
// (Linux); elsewhere it only removes the directories it can.
func reapOrphanDynos(base string, log *slog.Logger) {
	prefix := filepath.Clean(base) + string(filepath.Separator)
	if procs, err := os.ReadDir("/proc"); err == nil {
		self := os.Getpid()
		for _, e := range procs {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == self {
				continue
			}
			cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
			if err != nil || !strings.HasPrefix(cwd, prefix) {
				continue
			}
			if pgid := processGroup(pid); pgid > 1 {
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
			}
			_ = syscall.Kill(pid, syscall.SIGKILL)
			log.Warn("platform: killed a dyno process left by a previous run", "pid", pid, "dir", cwd)
		}
	}
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(base, e.Name())); err != nil {
			log.Warn("platform: removing a stale dyno directory", "dir", e.Name(), "err", err)
		}
	}
}

// processGroup reads a process's group ID from /proc/<pid>/stat, whose
// fields after the parenthesised command name are "state ppid pgrp ...".
func processGroup(pid int) int {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 3 {
		return 0
	}
	pgid, _ := strconv.Atoi(f[2])
	return pgid
}
