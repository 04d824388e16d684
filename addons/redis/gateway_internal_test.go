package redis

import (
	"bufio"
	"bytes"
	"slices"
	"strings"
	"testing"
)

func FuzzGatewayCommand(f *testing.F) {
	for _, s := range []string{
		"AUTH rd00112233445566778899aabb.pw\n",
		"*2\r\n$4\r\nAUTH\r\n$5\r\nhello\r\n",
		"*3\r\n$4\r\nauth\r\n$1\r\nu\r\n$1\r\np\r\n",
		"PING\r\n", "\r\n", "*0\r\n", "*-1\r\n", "*1\r\n$-1\r\n", "*1\r\n$3\r\nabcd\r\n",
		"AUTH \"x\"\n", strings.Repeat("a ", 20) + "\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		args, err := readCommand(bufio.NewReaderSize(bytes.NewReader(data), 64))
		if err != nil {
			return
		}
		if len(args) > gatewayMaxArgs {
			t.Fatalf("%d arguments accepted", len(args))
		}
		var enc bytes.Buffer
		for _, a := range args {
			if len(a) > gatewayMaxArgBytes {
				t.Fatalf("argument of %d bytes accepted", len(a))
			}
		}
		writeArray(&enc, args...)
		again, err := readCommand(bufio.NewReader(&enc))
		if err != nil || !slices.Equal(args, again) {
			t.Fatalf("%q read as %q, which reads back as %q, %v", data, args, again, err)
		}
	})
}
