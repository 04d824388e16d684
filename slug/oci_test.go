package slug_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynokit/dynokit/slug"
)

type ociDesc struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations"`
}

// readBlob reads a blob and checks that its digest and size match desc.
func readBlob(t *testing.T, layout string, d ociDesc) []byte {
	t.Helper()
	hexd, ok := strings.CutPrefix(d.Digest, "sha256:")
	if !ok {
		t.Fatalf("digest %q is not sha256", d.Digest)
	}
	b, err := os.ReadFile(filepath.Join(layout, "blobs", "sha256", hexd))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != hexd || int64(len(b)) != d.Size {
		t.Fatalf("blob %s: content digest %x size %d, descriptor says size %d", d.Digest, sum, len(b), d.Size)
	}
	return b
}

func TestExportOCI(t *testing.T) {
	src := t.TempDir()
	makeTree(t, src, treeSpec{"Procfile": "web: ./server\nworker: ./work\n", "server": "#!/bin/sh\n"}, nil)
	data, info := packBytes(t, src, slug.PackOptions{})
	layout := t.TempDir()
	img := slug.OCIImage{
		ProcessTypes: map[string]string{"web": "./server", "worker": "./work"},
		Env:          []string{"LANG=C.UTF-8"},
		Architecture: "amd64",
		RefName:      "v7",
	}
	manDigest, err := slug.ExportOCI(context.Background(), bytes.NewReader(data), layout, img)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(layout, "oci-layout")); string(b) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %q", b)
	}
	var index struct {
		SchemaVersion int       `json:"schemaVersion"`
		Manifests     []ociDesc `json:"manifests"`
	}
	ib, _ := os.ReadFile(filepath.Join(layout, "index.json"))
	if err := json.Unmarshal(ib, &index); err != nil || index.SchemaVersion != 2 || len(index.Manifests) != 1 {
		t.Fatalf("index.json %s: %v", ib, err)
	}
	md := index.Manifests[0]
	if md.Digest != manDigest || md.Annotations["org.opencontainers.image.ref.name"] != "v7" || md.MediaType != "application/vnd.oci.image.manifest.v1+json" {
		t.Errorf("index entry %+v, manifest digest %s", md, manDigest)
	}
	var manifest struct {
		Config ociDesc   `json:"config"`
		Layers []ociDesc `json:"layers"`
	}
	if err := json.Unmarshal(readBlob(t, layout, md), &manifest); err != nil || len(manifest.Layers) != 1 {
		t.Fatalf("manifest: %v %+v", err, manifest)
	}
	layer := readBlob(t, layout, manifest.Layers[0])
	if !bytes.Equal(layer, data) || manifest.Layers[0].Digest != "sha256:"+info.Digest.Hex() {
		t.Errorf("the layer is not the slug itself (layer %s, slug %s)", manifest.Layers[0].Digest, info.Digest)
	}
	zr, _ := gzip.NewReader(bytes.NewReader(layer))
	raw, _ := io.ReadAll(zr)
	diffID := sha256.Sum256(raw)

	cfgBytes := readBlob(t, layout, manifest.Config)
	var cfg struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
		Config       struct {
			Env        []string          `json:"Env"`
			Cmd        []string          `json:"Cmd"`
			WorkingDir string            `json:"WorkingDir"`
			Labels     map[string]string `json:"Labels"`
		} `json:"config"`
		RootFS struct {
			Type    string   `json:"type"`
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(cfgBytes, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.RootFS.Type != "layers" || len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != "sha256:"+hex.EncodeToString(diffID[:]) {
		t.Errorf("rootfs %+v, want the uncompressed layer's digest", cfg.RootFS)
	}
	if strings.Join(cfg.Config.Cmd, " ") != "/bin/sh -c ./server" || cfg.Config.WorkingDir != "/app" {
		t.Errorf("Cmd %q WorkingDir %q", cfg.Config.Cmd, cfg.Config.WorkingDir)
	}
	var pt map[string]string
	if err := json.Unmarshal([]byte(cfg.Config.Labels[slug.ProcessTypesLabel]), &pt); err != nil || pt["worker"] != "./work" {
		t.Errorf("process types label %q: %v", cfg.Config.Labels[slug.ProcessTypesLabel], err)
	}
	if cfg.Config.Env[len(cfg.Config.Env)-1] != "LANG=C.UTF-8" || cfg.Config.Env[0] != "HOME=/app" {
		t.Errorf("Env %q", cfg.Config.Env)
	}

	golden := filepath.Join("testdata", "oci-config.golden")
	if *update {
		os.WriteFile(golden, cfgBytes, 0o644)
	}
	if want, err := os.ReadFile(golden); err != nil || !bytes.Equal(want, cfgBytes) {
		t.Errorf("config differs from %s (err %v; run with -update if intended):\n%s", golden, err, cfgBytes)
	}

	// Same slug, same image: the export is reproducible.
	again, err := slug.ExportOCI(context.Background(), bytes.NewReader(data), t.TempDir(), img)
	if err != nil || again != manDigest {
		t.Errorf("second export gave %s (%v), first %s", again, err, manDigest)
	}
	if _, err := slug.ExportOCI(context.Background(), strings.NewReader("not gzip"), t.TempDir(), img); err == nil || !strings.Contains(err.Error(), "not gzip") {
		t.Errorf("export of garbage: err = %v", err)
	}
}
