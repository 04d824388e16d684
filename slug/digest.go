package slug

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// Digest identifies a slug by the SHA-256 of its compressed bytes, written
// as Heroku writes a slug checksum: "SHA256:" followed by 64 lowercase hex
// digits. The zero Digest means "unknown" (for example "do not verify" in
// [Store.Put]).
type Digest string

const digestPrefix = "SHA256:"

// ParseDigest parses s as a slug digest. It accepts the "SHA256:" prefix in
// any letter case (containerd and OCI write "sha256:") and upper- or
// lowercase hex, and returns the canonical form.
func ParseDigest(s string) (Digest, error) {
	prefix, hexPart, ok := strings.Cut(s, ":")
	if !ok || !strings.EqualFold(prefix, "sha256") {
		return "", fmt.Errorf("slug: invalid digest %q: want \"SHA256:\" followed by 64 hex digits", s)
	}
	if len(hexPart) != sha256.Size*2 {
		return "", fmt.Errorf("slug: invalid digest %q: want 64 hex digits after \"SHA256:\", got %d characters", s, len(hexPart))
	}
	if _, err := hex.DecodeString(hexPart); err != nil {
		return "", fmt.Errorf("slug: invalid digest %q: not hexadecimal", s)
	}
	return Digest(digestPrefix + strings.ToLower(hexPart)), nil
}

// DigestOf returns the digest of b.
func DigestOf(b []byte) Digest {
	sum := sha256.Sum256(b)
	return digestFromSum(sum[:])
}

func digestFromSum(sum []byte) Digest {
	return Digest(digestPrefix + hex.EncodeToString(sum))
}

// String returns the digest in its canonical "SHA256:<hex>" form.
func (d Digest) String() string { return string(d) }

// Hex returns the 64 hex digits without the algorithm prefix, or "" if d is
// not a valid canonical digest.
func (d Digest) Hex() string {
	if !d.valid() {
		return ""
	}
	return string(d[len(digestPrefix):])
}

// valid reports whether d is in canonical form (as returned by ParseDigest).
func (d Digest) valid() bool {
	if len(d) != len(digestPrefix)+sha256.Size*2 || !strings.HasPrefix(string(d), digestPrefix) {
		return false
	}
	for _, c := range d[len(digestPrefix):] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// canonical returns d in canonical form, or an error naming d.
func (d Digest) canonical() (Digest, error) {
	if d.valid() {
		return d, nil
	}
	return ParseDigest(string(d))
}

// digester hashes bytes as they pass and counts them.
type digester struct {
	h hash.Hash
	n int64
}

func newDigester() *digester { return &digester{h: sha256.New()} }

func (d *digester) Write(p []byte) (int, error) {
	d.h.Write(p)
	d.n += int64(len(p))
	return len(p), nil
}

func (d *digester) digest() Digest { return digestFromSum(d.h.Sum(nil)) }

// ErrDigestMismatch is matched (with errors.Is) by every [*DigestMismatchError].
var ErrDigestMismatch = errors.New("slug: checksum does not match")

// DigestMismatchError reports bytes whose SHA-256 is not the one expected.
// Its message follows Heroku's R17 error.
type DigestMismatchError struct {
	Want, Got Digest
	// Cause is the error that stopped an extraction early, if any: with
	// the wrong bytes, a gzip or tar error is a symptom, not the cause.
	Cause error
}

func (e *DigestMismatchError) Error() string {
	msg := fmt.Sprintf("slug: Checksum does not match expected value. Expected: %s Actual: %s", e.Want, e.Got)
	if e.Cause != nil {
		msg += " (extraction stopped early: " + e.Cause.Error() + ")"
	}
	return msg
}

func (e *DigestMismatchError) Unwrap() error { return e.Cause }

// Is makes errors.Is(err, ErrDigestMismatch) true.
func (e *DigestMismatchError) Is(target error) bool { return target == ErrDigestMismatch }
