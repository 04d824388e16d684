package sealed

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"strings"
)

// StreamPrefix starts every stream [Box.SealStream] writes.
const StreamPrefix = "dk-sealed-stream:v1:"

// streamVersion stands for the version in the authenticated data of a
// stream's sealed data key, so that it never opens as a Box secret or a
// config var value (and they never open as it).
const streamVersion = -2

const (
	// streamChunk is the plaintext of each chunk but the last, which holds
	// 0 to streamChunk bytes.
	streamChunk = 64 << 10
	// maxStreamHeader bounds the header line a reader accepts.
	maxStreamHeader = 512
)

// SealStream returns a writer that seals what is written to it for label
// and writes the sealed stream to w: for large secrets, such as database
// backups, that a [Box.Seal] value would have to hold in memory whole.
// Close writes the last chunk and must be called (it does not close w): a
// stream without its last chunk does not open.
//
// A stream is a header line, StreamPrefix followed by a data key of 32
// random bytes sealed as a Box secret for label (so a stream opens only
// under its label, and names the key that sealed it), then the data in
// chunks of 64 KiB, each sealed with AES-256-GCM under the data key with
// its position and whether it is the last as the nonce: chunks cannot be
// altered, dropped, reordered or cut off without the read failing. It
// adds about 200 bytes, and 16 per chunk.
func (b *Box) SealStream(w io.Writer, label string) io.WriteCloser {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // never fails (crypto/rand)
	header := StreamPrefix + b.keys.sealValue("", streamVersion, label, string(key)) + "\n"
	return &streamWriter{w: w, aead: chunkAEAD(key), pending: []byte(header), buf: make([]byte, 0, streamChunk)}
}

// OpenStream returns a reader of the data of a stream [Box.SealStream]
// wrote for label. A stream that does not start with StreamPrefix is data
// written before sealing was turned on, and is read as it is. A stream
// that cannot be opened (another label, a key not in the list, an altered
// header) fails here with an *[OpenError]; one whose chunks were altered,
// reordered or cut off fails while being read, with an *OpenError once
// the data read so far ends. Errors of r pass through.
func (b *Box) OpenStream(r io.Reader, label string) (io.Reader, error) {
	br := bufio.NewReaderSize(r, streamChunk+64)
	start, err := br.Peek(len(StreamPrefix))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if !bytes.Equal(start, []byte(StreamPrefix)) {
		return br, nil
	}
	fail := func(keyID string, why Reason) (io.Reader, error) {
		return nil, &OpenError{Version: streamVersion, Var: label, KeyID: keyID, Reason: why}
	}
	line, err := br.Peek(maxStreamHeader) // fewer at the end of a short stream
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	end := bytes.IndexByte(line, '\n')
	if end < 0 {
		return fail("", ReasonMalformed)
	}
	stored := string(line[len(StreamPrefix):end])
	key, oerr := b.keys.openValue("", streamVersion, label, stored)
	switch {
	case oerr != nil:
		return nil, oerr
	case stored == key || len(key) != 32: // not sealed text, or not a data key
		return fail("", ReasonMalformed)
	}
	_, _ = br.Discard(end + 1)
	keyID, _, _ := strings.Cut(strings.TrimPrefix(stored, Prefix+formatV1), ":")
	aead := chunkAEAD([]byte(key))
	return &streamReader{r: br, aead: aead, label: label, keyID: keyID,
		buf: make([]byte, streamChunk+aead.Overhead()), out: make([]byte, 0, streamChunk)}, nil
}

func chunkAEAD(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // 32 bytes: cannot happen
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead
}

// chunkNonce is the nonce of chunk i: its index, and 1 in the last byte
// for the last chunk. Each stream has its own key, so a nonce is never
// used twice with one key.
func chunkNonce(nonce []byte, i uint64, last bool) []byte {
	clear(nonce)
	binary.BigEndian.PutUint64(nonce[3:11], i)
	if last {
		nonce[11] = 1
	}
	return nonce
}

type streamWriter struct {
	w       io.Writer
	aead    cipher.AEAD
	pending []byte // the header, until the first chunk goes out
	buf     []byte // data of the chunk being filled
	out     []byte
	nonce   [12]byte
	next    uint64
	err     error
	closed  bool
}

func (s *streamWriter) Write(p []byte) (int, error) {
	if s.closed {
		return 0, errors.New("sealed: write to a closed stream")
	}
	n := 0
	for len(p) > 0 && s.err == nil {
		// A full chunk goes out only when more data follows: the last
		// chunk is never empty unless the whole stream is.
		if len(s.buf) == streamChunk {
			s.flush(false)
			continue
		}
		k := min(streamChunk-len(s.buf), len(p))
		s.buf = append(s.buf, p[:k]...)
		p, n = p[k:], n+k
	}
	return n, s.err
}

// Close writes the last chunk. It does not close the underlying writer.
func (s *streamWriter) Close() error {
	if s.closed {
		return s.err
	}
	s.closed = true
	if s.err == nil {
		s.flush(true)
	}
	return s.err
}

func (s *streamWriter) flush(last bool) {
	s.out = append(s.out[:0], s.pending...)
	s.pending = nil
	s.out = s.aead.Seal(s.out, chunkNonce(s.nonce[:], s.next, last), s.buf, nil)
	s.next++
	s.buf = s.buf[:0]
	if _, err := s.w.Write(s.out); err != nil {
		s.err = err
	}
}

type streamReader struct {
	r     *bufio.Reader
	aead  cipher.AEAD
	label string
	keyID string
	buf   []byte // a sealed chunk
	out   []byte // its data: not opened in place, since a failed Open clears its output
	plain []byte // opened, not yet read
	nonce [12]byte
	next  uint64
	done  bool
	err   error
}

func (s *streamReader) Read(p []byte) (int, error) {
	for len(s.plain) == 0 {
		if s.err != nil {
			return 0, s.err
		}
		if s.done {
			return 0, io.EOF
		}
		s.err = s.open()
	}
	n := copy(p, s.plain)
	s.plain = s.plain[n:]
	return n, nil
}

// open reads and opens the next chunk. A chunk is the last when the
// stream ends with it, full or short.
func (s *streamReader) open() error {
	n, err := io.ReadFull(s.r, s.buf)
	last := false
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		last = true
	case err != nil:
		return err
	default:
		if _, err := s.r.Peek(1); errors.Is(err, io.EOF) {
			last = true
		} else if err != nil {
			return err
		}
	}
	fail := func(why Reason) error {
		return &OpenError{Version: streamVersion, Var: s.label, KeyID: s.keyID, Reason: why}
	}
	if n < s.aead.Overhead() {
		if n == 0 {
			return fail(ReasonTruncated)
		}
		return fail(ReasonNotAuthentic)
	}
	plain, err := s.aead.Open(s.out[:0], chunkNonce(s.nonce[:], s.next, last), s.buf[:n], nil)
	if err != nil {
		// A chunk that opens as one followed by more was cut off after.
		if last {
			if _, err := s.aead.Open(s.out[:0], chunkNonce(s.nonce[:], s.next, false), s.buf[:n], nil); err == nil {
				return fail(ReasonTruncated)
			}
		}
		return fail(ReasonNotAuthentic)
	}
	s.next++
	s.plain, s.done = plain, last
	return nil
}
