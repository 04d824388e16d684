package slugtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"strconv"
	"strings"
	"time"

	"github.com/dynokit/dynokit/slug"
)

// Hostile is a slug an extractor must refuse.
type Hostile struct {
	Name string // short, file-name safe
	Why  string
	Data []byte // gzip-compressed tar (except where the point is that it is not)
	// Want is the sentinel the error must match (errors.Is), or nil when
	// any error will do (malformed input).
	Want error
}

// HostileLimits returns the limits the corpus is meant to be extracted with:
// small, so that the decompression bombs stay small too.
func HostileLimits() slug.Limits {
	return slug.Limits{MaxUncompressedSize: 1 << 20, MaxEntries: 50}
}

// Entry describes one tar entry for BuildTar.
type Entry struct {
	Name     string
	Type     byte // tar.TypeReg when zero
	Mode     int64
	Linkname string
	Body     string
	Size     int64             // for TypeReg with Body "": this many zero bytes
	PAX      map[string]string // PAX records (for tar.TypeXGlobalHeader, its only content)
}

// BuildTar returns the gzip-compressed tar of entries, byte-for-byte the
// same on every call.
func BuildTar(entries ...Entry) []byte {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Typeflag: e.Type, Mode: e.Mode, Linkname: e.Linkname, ModTime: time.Unix(0, 0), Format: tar.FormatPAX, PAXRecords: e.PAX}
		if h.Typeflag == tar.TypeXGlobalHeader {
			h.Mode, h.ModTime = 0, time.Time{}
		} else if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 && h.Typeflag != tar.TypeXGlobalHeader {
			h.Mode = 0o644
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.Body))
			if e.Body == "" {
				h.Size = e.Size
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			panic(err)
		}
		if h.Typeflag == tar.TypeReg {
			if e.Body != "" {
				tw.Write([]byte(e.Body))
			} else {
				zero := make([]byte, 64<<10)
				for n := e.Size; n > 0; n -= int64(len(zero)) {
					tw.Write(zero[:min(n, int64(len(zero)))])
				}
			}
		}
	}
	tw.Close()
	return gzipBytes(tb.Bytes())
}

func gzipBytes(b []byte) []byte {
	var zb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&zb, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	return zb.Bytes()
}

var appDir = Entry{Name: "./app/", Type: tar.TypeDir, Mode: 0o755}

// HostileCorpus returns the hostile slugs, built deterministically.
func HostileCorpus() []Hostile {
	many := []Entry{appDir}
	for i := range 60 {
		many = append(many, Entry{Name: "./app/f" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "-" + strconv.Itoa(i), Body: ""})
	}
	var plainTar bytes.Buffer
	tw := tar.NewWriter(&plainTar)
	tw.WriteHeader(&tar.Header{Name: "./app/x", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644})
	tw.Write([]byte("x"))
	tw.Close()
	good := BuildTar(appDir, Entry{Name: "./app/file", Body: strings.Repeat("hello ", 1000)})

	return []Hostile{
		{"absolute-name", "entry with an absolute path", BuildTar(appDir, Entry{Name: "/tmp/evil", Body: "x"}), slug.ErrInsecurePath},
		{"absolute-app-name", "absolute path under /app", BuildTar(Entry{Name: "/app/evil", Body: "x"}), slug.ErrInsecurePath},
		{"dotdot-name", "entry climbing out with ..", BuildTar(appDir, Entry{Name: "./app/../../evil", Body: "x"}), slug.ErrInsecurePath},
		{"dotdot-inner", ".. in the middle of a name", BuildTar(appDir, Entry{Name: "app/a/../../../evil", Body: "x"}), slug.ErrInsecurePath},
		{"symlink-absolute", "symlink to an absolute path", BuildTar(appDir, Entry{Name: "./app/etc", Type: tar.TypeSymlink, Linkname: "/etc"}), slug.ErrInsecurePath},
		{"symlink-escape", "relative symlink leaving the tree", BuildTar(appDir, Entry{Name: "./app/up", Type: tar.TypeSymlink, Linkname: "../../.."}), slug.ErrInsecurePath},
		{"symlink-then-write", "file written through an in-tree symlink", BuildTar(appDir,
			Entry{Name: "./app/sub/", Type: tar.TypeDir, Mode: 0o755},
			Entry{Name: "./app/sub/here", Type: tar.TypeSymlink, Linkname: ".."},
			Entry{Name: "./app/sub/here/evil", Body: "x"}), slug.ErrInsecurePath},
		{"symlink-chain", "links that look in-tree lexically but climb out when followed", BuildTar(appDir,
			Entry{Name: "./app/up", Type: tar.TypeSymlink, Linkname: "."},
			Entry{Name: "./app/up/up/l", Type: tar.TypeSymlink, Linkname: "../../.."}), slug.ErrInsecurePath},
		{"symlink-dotdot-after-link", "a target that cleans to the tree but climbs out through another link", BuildTar(appDir,
			Entry{Name: "./app/d/", Type: tar.TypeDir, Mode: 0o755},
			Entry{Name: "./app/d/l", Type: tar.TypeSymlink, Linkname: ".."},
			Entry{Name: "./app/a", Type: tar.TypeSymlink, Linkname: "d/l/../.."}), slug.ErrInsecurePath},
		{"hardlink-absolute", "hard link to /etc/passwd", BuildTar(appDir, Entry{Name: "./app/passwd", Type: tar.TypeLink, Linkname: "/etc/passwd"}), slug.ErrInsecurePath},
		{"hardlink-dotdot", "hard link climbing out with ..", BuildTar(appDir, Entry{Name: "./app/passwd", Type: tar.TypeLink, Linkname: "./app/../../etc/passwd"}), slug.ErrInsecurePath},
		{"hardlink-outside-app", "hard link to an entry outside ./app", BuildTar(Entry{Name: "./other", Body: "x"}, appDir, Entry{Name: "./app/h", Type: tar.TypeLink, Linkname: "./other"}), slug.ErrInsecurePath},
		{"hardlink-via-symlink", "hard link whose target path goes through a symlink", BuildTar(appDir,
			Entry{Name: "./app/l", Type: tar.TypeSymlink, Linkname: "."},
			Entry{Name: "./app/f", Body: "x"},
			Entry{Name: "./app/h", Type: tar.TypeLink, Linkname: "./app/l/f"}), slug.ErrInsecurePath},
		{"hardlink-missing", "hard link to a file that was never extracted", BuildTar(appDir, Entry{Name: "./app/h", Type: tar.TypeLink, Linkname: "./app/nope"}), slug.ErrInsecurePath},
		{"char-device", "character device", BuildTar(appDir, Entry{Name: "./app/null", Type: tar.TypeChar, Mode: 0o666}), slug.ErrUnsupportedEntry},
		{"block-device", "block device", BuildTar(appDir, Entry{Name: "./app/sda", Type: tar.TypeBlock, Mode: 0o660}), slug.ErrUnsupportedEntry},
		{"fifo", "named pipe", BuildTar(appDir, Entry{Name: "./app/pipe", Type: tar.TypeFifo, Mode: 0o644}), slug.ErrUnsupportedEntry},
		{"app-is-file", "./app itself is a regular file", BuildTar(Entry{Name: "./app", Body: "x"}), slug.ErrUnsupportedEntry},
		{"bomb-bytes", "small archive inflating past MaxUncompressedSize", BuildTar(appDir, Entry{Name: "./app/zeros", Size: 8 << 20}), slug.ErrTooLarge},
		{"bomb-entries", "more entries than MaxEntries", BuildTar(many...), slug.ErrTooLarge},
		{"not-gzip", "a plain tar", plainTar.Bytes(), nil},
		{"truncated", "gzip stream cut in half", good[:len(good)/2], nil},
		{"corrupt-crc", "gzip trailer with a wrong CRC", corruptTrailer(good), nil},
		{"garbage", "not an archive at all", []byte("GET / HTTP/1.1\r\n\r\n"), nil},
	}
}

func corruptTrailer(b []byte) []byte {
	c := bytes.Clone(b)
	c[len(c)-8] ^= 0xff
	return c
}
