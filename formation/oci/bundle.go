package oci

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// WriteBundle writes s as dir/config.json and, when s.Root.Path is relative
// (the minimal rootfs), creates that rootfs inside dir: empty mountpoint
// directories only, since everything the dyno sees is mounted over them.
// dir is created if needed; an existing config.json is replaced.
func WriteBundle(dir string, s *specs.Spec) error {
	if s == nil || s.Root == nil || s.Root.Path == "" {
		return errors.New("oci: write bundle: spec has no root path")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("oci: write bundle: %w", err)
	}
	if !filepath.IsAbs(s.Root.Path) {
		rootfs := filepath.Join(dir, s.Root.Path)
		if !strings.HasPrefix(rootfs, filepath.Clean(dir)+string(filepath.Separator)) {
			return fmt.Errorf("oci: write bundle: root path %q leaves the bundle", s.Root.Path)
		}
		// 0755: the unprivileged dyno user walks the rootfs.
		if err := os.MkdirAll(rootfs, 0o755); err != nil {
			return fmt.Errorf("oci: write bundle: %w", err)
		}
		if err := os.Chmod(rootfs, 0o755); err != nil {
			return fmt.Errorf("oci: write bundle: %w", err)
		}
		for _, m := range s.Mounts {
			top, _, _ := strings.Cut(strings.TrimPrefix(filepath.Clean(m.Destination), "/"), "/")
			if top == "" || top == ".." {
				continue
			}
			mp := filepath.Join(rootfs, top)
			if err := os.MkdirAll(mp, 0o755); err != nil {
				return fmt.Errorf("oci: write bundle: mountpoint %s: %w", m.Destination, err)
			}
			// runc gives a tmpfs the mode of the directory it is mounted on,
			// so the mountpoint carries the mode the mount asks for.
			if mode, ok := tmpfsMode(m); ok && mp == filepath.Join(rootfs, strings.TrimPrefix(filepath.Clean(m.Destination), "/")) {
				if err := os.Chmod(mp, mode); err != nil {
					return fmt.Errorf("oci: write bundle: mountpoint %s: %w", m.Destination, err)
				}
			}
		}
	}
	b, err := encodeSpec(s)
	if err != nil {
		return fmt.Errorf("oci: write bundle: encode config.json: %w", err)
	}
	tmp := filepath.Join(dir, ".config.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("oci: write bundle: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "config.json")); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("oci: write bundle: %w", err)
	}
	return nil
}

// tmpfsMode returns the mode= option of a tmpfs mount.
func tmpfsMode(m specs.Mount) (os.FileMode, bool) {
	if m.Type != "tmpfs" {
		return 0, false
	}
	for _, o := range m.Options {
		if v, ok := strings.CutPrefix(o, "mode="); ok {
			n, err := strconv.ParseUint(v, 8, 32)
			if err != nil {
				return 0, false
			}
			mode := os.FileMode(n & 0o777)
			if n&0o1000 != 0 {
				mode |= os.ModeSticky
			}
			return mode, true
		}
	}
	return 0, false
}

// encodeSpec is config.json as written: indented, with the init script's
// shell operators left readable rather than escaped for HTML.
func encodeSpec(s *specs.Spec) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "\t")
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
