package slug

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// OCI media types used by ExportOCI.
const (
	ociManifestType = "application/vnd.oci.image.manifest.v1+json"
	ociConfigType   = "application/vnd.oci.image.config.v1+json"
	ociLayerType    = "application/vnd.oci.image.layer.v1.tar+gzip"
	ociIndexType    = "application/vnd.oci.image.index.v1+json"
)

// ProcessTypesLabel is the image label under which ExportOCI records the
// slug's process types, as a JSON object (name → command).
const ProcessTypesLabel = "io.dynokit.process-types"

// OCIImage describes the image ExportOCI writes around a slug. The zero
// value gives an image for linux on the current architecture with no
// process types.
type OCIImage struct {
	// ProcessTypes maps process type to command, as in a Procfile. They are
	// stored in the ProcessTypesLabel label; the "web" command (or the only
	// one) becomes the image's Cmd, run with "/bin/sh -c" like a dyno's.
	ProcessTypes map[string]string
	// Env is added to the image's environment after HOME=/app and a PATH
	// that looks in /app/bin first.
	Env []string
	// Architecture defaults to runtime.GOARCH; OS is always "linux".
	Architecture string
	// Created is recorded in the config when non-zero. Left zero, the same
	// slug gives the same image digest.
	Created time.Time
	// RefName, when set, becomes the org.opencontainers.image.ref.name
	// annotation in index.json (a tag such as "v42").
	RefName string
}

// ExportOCI writes the slug read from r as an OCI image layout in dir
// (created if needed; an existing layout's blobs are reused and its
// index.json replaced). The image has one layer, the slug itself, so its
// layer digest is the slug's digest. It holds only /app: runtimes run it
// on top of a base image (Heroku's stack) that provides the OS. It returns
// the manifest digest.
func ExportOCI(ctx context.Context, r io.Reader, dir string, img OCIImage) (string, error) {
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return "", fmt.Errorf("slug: oci export: %w", err)
	}
	layerDigest, layerSize, err := writeBlobFrom(ctx, blobs, r)
	if err != nil {
		return "", err
	}
	diffID, err := uncompressedDigest(filepath.Join(blobs, layerDigest))
	if err != nil {
		return "", err
	}

	arch := img.Architecture
	if arch == "" {
		arch = runtime.GOARCH
	}
	type configBody struct {
		Env        []string          `json:"Env,omitempty"`
		Cmd        []string          `json:"Cmd,omitempty"`
		WorkingDir string            `json:"WorkingDir"`
		Labels     map[string]string `json:"Labels,omitempty"`
	}
	cfg := struct {
		Created      *time.Time `json:"created,omitempty"`
		Architecture string     `json:"architecture"`
		OS           string     `json:"os"`
		Config       configBody `json:"config"`
		RootFS       struct {
			Type    string   `json:"type"`
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}{Architecture: arch, OS: "linux"}
	if !img.Created.IsZero() {
		c := img.Created.UTC()
		cfg.Created = &c
	}
	cfg.Config.WorkingDir = "/app"
	cfg.Config.Env = append([]string{"HOME=/app", "PATH=/app/bin:/usr/local/bin:/usr/bin:/bin"}, img.Env...)
	if len(img.ProcessTypes) > 0 {
		pt, _ := json.Marshal(img.ProcessTypes) // map keys are sorted: stable bytes
		cfg.Config.Labels = map[string]string{ProcessTypesLabel: string(pt)}
		cmd, ok := img.ProcessTypes["web"]
		if !ok && len(img.ProcessTypes) == 1 {
			for _, c := range img.ProcessTypes {
				cmd = c
			}
		}
		if cmd != "" {
			cfg.Config.Cmd = []string{"/bin/sh", "-c", cmd}
		}
	}
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = []string{diffID}
	cfgDigest, cfgSize, err := writeJSONBlob(blobs, cfg)
	if err != nil {
		return "", err
	}

	type descriptor struct {
		MediaType   string            `json:"mediaType"`
		Digest      string            `json:"digest"`
		Size        int64             `json:"size"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}
	manifest := struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Config        descriptor   `json:"config"`
		Layers        []descriptor `json:"layers"`
	}{
		SchemaVersion: 2,
		MediaType:     ociManifestType,
		Config:        descriptor{MediaType: ociConfigType, Digest: "sha256:" + cfgDigest, Size: cfgSize},
		Layers:        []descriptor{{MediaType: ociLayerType, Digest: "sha256:" + layerDigest, Size: layerSize}},
	}
	manDigest, manSize, err := writeJSONBlob(blobs, manifest)
	if err != nil {
		return "", err
	}
	desc := descriptor{MediaType: ociManifestType, Digest: "sha256:" + manDigest, Size: manSize}
	if img.RefName != "" {
		desc.Annotations = map[string]string{"org.opencontainers.image.ref.name": img.RefName}
	}
	index := struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Manifests     []descriptor `json:"manifests"`
	}{2, ociIndexType, []descriptor{desc}}
	if err := writeFileAtomic(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return "", err
	}
	ib, _ := json.Marshal(index)
	if err := writeFileAtomic(filepath.Join(dir, "index.json"), ib); err != nil {
		return "", err
	}
	return "sha256:" + manDigest, nil
}

// writeBlobFrom copies r into a content-addressed blob and returns its hex
// digest and size.
func writeBlobFrom(ctx context.Context, blobs string, r io.Reader) (string, int64, error) {
	f, err := os.CreateTemp(blobs, ".tmp-*")
	if err != nil {
		return "", 0, fmt.Errorf("slug: oci export: %w", err)
	}
	defer os.Remove(f.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), ctxReader{ctx, r})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", 0, fmt.Errorf("slug: oci export: writing layer: %w", err)
	}
	d := hex.EncodeToString(h.Sum(nil))
	if err := os.Rename(f.Name(), filepath.Join(blobs, d)); err != nil {
		return "", 0, fmt.Errorf("slug: oci export: %w", err)
	}
	return d, n, nil
}

func uncompressedDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("slug: oci export: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return "", fmt.Errorf("slug: oci export: the slug is not gzip: %w", err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, zr); err != nil {
		return "", fmt.Errorf("slug: oci export: decompressing the slug: %w", err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func writeJSONBlob(blobs string, v any) (string, int64, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", 0, fmt.Errorf("slug: oci export: %w", err)
	}
	sum := sha256.Sum256(b)
	d := hex.EncodeToString(sum[:])
	if err := writeFileAtomic(filepath.Join(blobs, d), b); err != nil {
		return "", 0, err
	}
	return d, int64(len(b)), nil
}

func writeFileAtomic(name string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), ".tmp-*")
	if err != nil {
		return fmt.Errorf("slug: oci export: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		return fmt.Errorf("slug: oci export: %w", err)
	}
	return nil
}
