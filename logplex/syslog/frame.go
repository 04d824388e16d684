package syslog

import (
	"bufio"
	"fmt"
	"strconv"
)

// DefaultMaxFrame bounds an octet-counted frame: Logplex lines are at most
// 10,000 bytes of text plus a header of a few hundred bytes.
const DefaultMaxFrame = 64 << 10

// FrameError reports a broken RFC 6587 octet-counted stream.
type FrameError struct {
	Offset int // byte offset in the data handed to the split function
	Reason string
}

func (e *FrameError) Error() string {
	return fmt.Sprintf("syslog: octet-counted frame at offset %d: %s", e.Offset, e.Reason)
}

// AppendFrame appends msg framed as RFC 6587 octet counting: "<len> <msg>".
func AppendFrame(b, msg []byte) []byte {
	b = strconv.AppendInt(b, int64(len(msg)), 10)
	b = append(b, ' ')
	return append(b, msg...)
}

// Split is a bufio.SplitFunc for RFC 6587 octet-counted framing that
// returns each message without its length prefix. Frames longer than
// DefaultMaxFrame are an error; use SplitMax to change the bound, and give
// the bufio.Scanner a buffer of at least the bound plus 8 bytes.
func Split(data []byte, atEOF bool) (int, []byte, error) {
	return splitFrame(data, atEOF, DefaultMaxFrame)
}

// SplitMax is Split with frames bounded by max bytes.
func SplitMax(max int) bufio.SplitFunc {
	return func(data []byte, atEOF bool) (int, []byte, error) {
		return splitFrame(data, atEOF, max)
	}
}

func splitFrame(data []byte, atEOF bool, max int) (int, []byte, error) {
	if len(data) == 0 {
		return 0, nil, nil
	}
	n, i := 0, 0
	for ; i < len(data) && data[i] >= '0' && data[i] <= '9'; i++ {
		if i == 0 && data[0] == '0' {
			return 0, nil, &FrameError{Offset: 0, Reason: "length starts with 0"}
		}
		n = n*10 + int(data[i]-'0')
		if n > max {
			return 0, nil, &FrameError{Offset: 0, Reason: fmt.Sprintf("length exceeds the %d-byte limit", max)}
		}
	}
	switch {
	case i == 0:
		return 0, nil, &FrameError{Offset: 0, Reason: fmt.Sprintf("want a decimal length, got %q", data[0])}
	case i == len(data):
		if atEOF {
			return 0, nil, &FrameError{Offset: 0, Reason: "stream ends inside the length"}
		}
		return 0, nil, nil
	case data[i] != ' ':
		return 0, nil, &FrameError{Offset: i, Reason: fmt.Sprintf("want a space after the length, got %q", data[i])}
	}
	end := i + 1 + n
	if len(data) < end {
		if atEOF {
			return 0, nil, &FrameError{Offset: 0, Reason: fmt.Sprintf("stream ends after %d of %d message bytes", len(data)-i-1, n)}
		}
		return 0, nil, nil
	}
	return end, data[i+1 : end], nil
}
