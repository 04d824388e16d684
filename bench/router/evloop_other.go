//go:build !linux

package main

import "log"

func evloop(addr, backend string) { log.Fatal("routerbench: -mode evloop needs Linux (epoll)") }
