package syslog_test

import (
	"bufio"
	"fmt"
	"strings"
	"time"

	"github.com/dynokit/dynokit/logplex"
	"github.com/dynokit/dynokit/logplex/syslog"
)

func ExampleFromLogplex() {
	line := logplex.Message{
		Time: time.Date(2010, 9, 16, 15, 13, 46, 677020000, time.UTC),
		App:  "demo", Source: "app", Proc: "web.1", Text: "hello",
	}
	msg := syslog.FromLogplex(line, "d.0d9e2c5a").Marshal()
	fmt.Printf("%s\n", syslog.AppendFrame(nil, msg))
	// Output: 70 <190>1 2010-09-16T15:13:46.677020+00:00 d.0d9e2c5a app web.1 - - hello
}

func ExampleSplit() {
	stream := "5 hello22 <0>1 - - - - - - world"
	sc := bufio.NewScanner(strings.NewReader(stream))
	sc.Split(syslog.Split)
	for sc.Scan() {
		fmt.Printf("%q\n", sc.Text())
	}
	fmt.Println(sc.Err())
	// Output:
	// "hello"
	// "<0>1 - - - - - - world"
	// <nil>
}

func ExampleParse() {
	m, err := syslog.Parse([]byte("<134>1 2012-12-10T03:00:48.123456Z erlang t.feff49f1 console.1 - - message"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.AppName, m.ProcID, m.Text)
	_, err = syslog.Parse([]byte("<134>1 Dec 10 03:00:48 erlang t.x console.1 - - message"))
	fmt.Println(err)
	// Output:
	// t.feff49f1 console.1 message
	// syslog: parse TIMESTAMP at offset 7: "Dec": too short for RFC 3339
}
