package pty_test

import (
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/dynokit/dynokit/internal/pty"
)

// A process on a terminal of 100 × 30 sees its size; the terminal turns
// its newlines into CR LF.
func Example() {
	master, slave, err := pty.Open(100, 30)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer master.Close()
	cmd := exec.Command("stty", "size")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = pty.Attr()
	err = cmd.Start()
	slave.Close()
	if err != nil {
		fmt.Println(err)
		return
	}
	var out strings.Builder
	_, _ = io.Copy(&out, master) // ends (EIO) when stty has exited
	_ = cmd.Wait()
	fmt.Printf("%q\n", out.String())
	// Output: "30 100\r\n"
}
