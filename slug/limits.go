package slug

import (
	"errors"
	"fmt"
)

// Default limits. Heroku's compressed-slug limit is 1 GB since March 2026
// (500 MB before), with a soft-limit warning at 300 MB. Heroku documents no
// uncompressed limit; ours exists to bound decompression bombs (deflate can
// expand about 1000:1) and is generous enough for any slug under the
// compressed limit that is not a bomb.
const (
	DefaultMaxCompressedSize   int64 = 1 << 30 // 1 GiB
	DefaultSoftCompressedSize  int64 = 300 << 20
	DefaultMaxUncompressedSize int64 = 8 << 30 // 8 GiB
	DefaultMaxEntries                = 1_000_000
)

// Limits bounds what Pack writes and Extract accepts. The zero value means
// the defaults above; a negative field means "no limit".
type Limits struct {
	// MaxCompressedSize bounds the slug as stored: the gzip stream.
	MaxCompressedSize int64
	// MaxUncompressedSize bounds the tar stream inside the gzip, which is
	// the file contents plus 512-byte headers and padding.
	MaxUncompressedSize int64
	// MaxEntries bounds the number of tar entries (files, directories and
	// links).
	MaxEntries int
}

func (l Limits) compressed() int64   { return pick(l.MaxCompressedSize, DefaultMaxCompressedSize) }
func (l Limits) uncompressed() int64 { return pick(l.MaxUncompressedSize, DefaultMaxUncompressedSize) }
func (l Limits) entries() int64      { return pick(int64(l.MaxEntries), DefaultMaxEntries) }

func pick(v, def int64) int64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return -1
	}
	return v
}

// ErrTooLarge is matched (with errors.Is) by every [*LimitError].
var ErrTooLarge = errors.New("slug: archive exceeds limits")

// LimitError reports a slug that exceeds one of its [Limits].
type LimitError struct {
	Field string // the Limits field that was exceeded, e.g. "MaxCompressedSize"
	Limit int64  // its effective value
	Size  int64  // the size reached when the limit was hit (a lower bound when streaming)
}

func (e *LimitError) Error() string {
	if e.Field == "MaxEntries" {
		return fmt.Sprintf("slug: too many entries: %d exceeds the limit of %d (Limits.MaxEntries)", e.Size, e.Limit)
	}
	what := "compressed size"
	if e.Field == "MaxUncompressedSize" {
		what = "uncompressed size"
	}
	return fmt.Sprintf("slug: %s too large: at least %s (%d bytes) exceeds the limit of %s (Limits.%s)",
		what, FormatSize(e.Size), e.Size, FormatSize(e.Limit), e.Field)
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *LimitError) Is(target error) bool { return target == ErrTooLarge }

// FormatSize renders n bytes the way Heroku's build output does: whole
// mebibytes as "MB" (and gibibytes as "GB" from 1 GiB on).
func FormatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GB", n>>30)
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// SoftLimitWarning returns Heroku's warning for a slug of compressed size n
// above the soft limit soft, or "" when n is within it.
func SoftLimitWarning(n, soft int64) string {
	if soft <= 0 || n <= soft {
		return ""
	}
	return fmt.Sprintf("Warning: Your slug size (%s) exceeds our soft limit (%s) which may affect boot time",
		FormatSize(n), FormatSize(soft))
}
