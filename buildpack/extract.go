package buildpack

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// extractLimits bound an archive, against decompression bombs.
type extractLimits struct {
	MaxBytes   int64 // total bytes of regular files
	MaxEntries int
}

var defaultExtractLimits = extractLimits{MaxBytes: 512 << 20, MaxEntries: 100_000}

// extractTar unpacks a tar stream (gzip-compressed or not, detected from
// its first bytes) into the existing directory dst. Every write goes
// through an os.Root, and names and link targets that are absolute or
// leave dst are rejected, so nothing is written outside dst.
func extractTar(ctx context.Context, r io.Reader, dst string, lim extractLimits) error {
	br := bufio.NewReader(r)
	var src io.Reader = br
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		src = zr
	}
	root, err := os.OpenRoot(dst)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(src)
	var total int64
	for entries := 0; ; entries++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tar: %w", err)
		}
		if entries >= lim.MaxEntries {
			return fmt.Errorf("archive has more than %d entries", lim.MaxEntries)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name, err := archiveName(hdr.Name)
		if err != nil {
			return err
		}
		if name == "." {
			continue
		}
		if dir := path.Dir(name); dir != "." {
			if err := root.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("entry %q: %w", hdr.Name, err)
			}
		}
		perm := os.FileMode(hdr.Mode).Perm() | 0o600 // the owner must be able to read and clean up
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, perm|0o700); err != nil {
				return fmt.Errorf("entry %q: %w", hdr.Name, err)
			}
		case tar.TypeReg:
			if hdr.Size < 0 || total+hdr.Size > lim.MaxBytes {
				return fmt.Errorf("entry %q: archive holds more than %d bytes", hdr.Name, lim.MaxBytes)
			}
			f, err := root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
			if err != nil {
				return fmt.Errorf("entry %q: %w", hdr.Name, err)
			}
			n, err := io.Copy(f, io.LimitReader(tr, hdr.Size))
			total += n
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("entry %q: %w", hdr.Name, err)
			}
		case tar.TypeSymlink:
			if err := linkTargetInside(name, hdr.Linkname, true); err != nil {
				return fmt.Errorf("entry %q: %w", hdr.Name, err)
			}
			// The lexical check above holds only if the link's directory
			// is where its name says, not reached through another link.
			if err := noSymlinkParents(root, name); err != nil {
				return fmt.Errorf("entry %q: %w", hdr.Name, err)
			}
			if err := root.Symlink(hdr.Linkname, name); err != nil {
				return fmt.Errorf("entry %q: %w", hdr.Name, err)
			}
		case tar.TypeLink:
			if err := linkTargetInside(name, hdr.Linkname, false); err != nil {
				return fmt.Errorf("entry %q: %w", hdr.Name, err)
			}
			old, _ := archiveName(hdr.Linkname)
			if err := root.Link(old, name); err != nil {
				return fmt.Errorf("entry %q: %w", hdr.Name, err)
			}
		default:
			return fmt.Errorf("entry %q: unsupported type %q (only files, directories and links)", hdr.Name, hdr.Typeflag)
		}
	}
}

// archiveName cleans an entry name and rejects absolute and escaping ones.
func archiveName(name string) (string, error) {
	if name == "" {
		return "", errors.New("entry with an empty name")
	}
	if strings.ContainsRune(name, 0) || strings.Contains(name, `\`) {
		return "", fmt.Errorf("entry %q: name has a NUL or backslash", name)
	}
	if path.IsAbs(name) {
		return "", fmt.Errorf("entry %q: absolute path", name)
	}
	clean := path.Clean(name)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("entry %q: path leaves the archive root", name)
	}
	return clean, nil
}

// linkTargetInside checks that a link named name pointing at target stays
// inside the root. Symlink targets are relative to the link's directory,
// hard link targets to the root.
func linkTargetInside(name, target string, symlink bool) error {
	if target == "" {
		return errors.New("link with an empty target")
	}
	if path.IsAbs(target) {
		return fmt.Errorf("link target %q is absolute", target)
	}
	resolved := target
	if symlink {
		resolved = path.Join(path.Dir(name), target)
	}
	resolved = path.Clean(resolved)
	if resolved == ".." || strings.HasPrefix(resolved, "../") {
		return fmt.Errorf("link target %q leaves the archive root", target)
	}
	return nil
}

// noSymlinkParents fails when a directory on name's path is a symlink.
func noSymlinkParents(root *os.Root, name string) error {
	dir := path.Dir(name)
	for dir != "." {
		fi, err := root.Lstat(dir)
		if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("symlink placed under %q, which is itself a symlink", dir)
		}
		dir = path.Dir(dir)
	}
	return nil
}
