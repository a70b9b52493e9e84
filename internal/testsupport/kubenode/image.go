package kubenode

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
	"time"
)

// Image is a single-layer image of static binaries on an empty base, what
// WriteImage writes as an OCI image-layout archive for the node's
// containerd to import: no registry is reachable from the cluster tier.
type Image struct {
	// Ref is the reference Pods name in their image field, such as
	// "dsprobe.test/busybox:1". Pods use imagePullPolicy Never or
	// IfNotPresent: nothing can be pulled.
	Ref string
	// Files maps a path in the image ("bin/busybox") to the host file
	// copied there, with the host file's mode.
	Files map[string]string
	// Entrypoint and Cmd are the image's defaults, as in an image config.
	Entrypoint, Cmd []string
	// User is the image's default user ("65532"); empty is root.
	User string
}

// emptyDirs are in every image: /tmp for programs that write temporary
// files (an emptyDir volume replaces it where the root is read-only), /etc
// for the files the runtime bind-mounts (hosts, resolv.conf, hostname).
var emptyDirs = []string{"etc", "tmp"}

// WriteImage writes img to path as an OCI image-layout archive (oci-layout,
// index.json, blobs/sha256/: the layer, the config, the manifest), the
// index entry annotated with img.Ref as io.containerd.image.name, which is
// the name `ctr images import` gives it. The same image always writes the
// same bytes, so its digest is stable.
func WriteImage(path string, img Image) error {
	if img.Ref == "" {
		return errors.New("kubenode: WriteImage: the image has no reference")
	}
	layer, err := imageLayer(img.Files)
	if err != nil {
		return fmt.Errorf("kubenode: image %s: %w", img.Ref, err)
	}
	layerDigest := digestOf(layer)
	config, err := json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"config": map[string]any{
			"User":       img.User,
			"Entrypoint": img.Entrypoint,
			"Cmd":        img.Cmd,
			"Env":        []string{"PATH=/bin"},
		},
		// The layer is stored uncompressed, so its diff ID is its digest.
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{layerDigest}},
	})
	if err != nil {
		return err
	}
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        descriptor("application/vnd.oci.image.config.v1+json", config, nil),
		"layers":        []any{descriptor("application/vnd.oci.image.layer.v1.tar", layer, nil)},
	})
	if err != nil {
		return err
	}
	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests": []any{descriptor("application/vnd.oci.image.manifest.v1+json", manifest,
			map[string]string{"io.containerd.image.name": img.Ref, "org.opencontainers.image.ref.name": img.Ref})},
	})
	if err != nil {
		return err
	}
	var archive bytes.Buffer
	w := tar.NewWriter(&archive)
	entries := []struct {
		name string
		data []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", index},
		{blobPath(layer), layer},
		{blobPath(config), config},
		{blobPath(manifest), manifest},
	}
	for _, e := range entries {
		if err := writeTarFile(w, e.name, 0o644, e.data); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, archive.Bytes(), 0o644)
}

// imageLayer is a tar of emptyDirs and files (image path -> host path),
// directories made for every parent, in name order.
func imageLayer(files map[string]string) ([]byte, error) {
	dirs := map[string]bool{}
	for _, d := range emptyDirs {
		dirs[d] = true
	}
	for name := range files {
		clean := path.Clean(strings.TrimPrefix(name, "/"))
		if clean == "." || strings.HasPrefix(clean, "../") {
			return nil, fmt.Errorf("file %q: want a path inside the image", name)
		}
		for d := path.Dir(clean); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	for _, d := range slices.Sorted(maps.Keys(dirs)) {
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		if err := w.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: mode, ModTime: time.Unix(0, 0)}); err != nil {
			return nil, err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		data, err := os.ReadFile(files[name])
		if err != nil {
			return nil, err
		}
		info, err := os.Stat(files[name])
		if err != nil {
			return nil, err
		}
		if err := writeTarFile(w, path.Clean(strings.TrimPrefix(name, "/")), int64(info.Mode().Perm()), data); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeTarFile(w *tar.Writer, name string, mode int64, data []byte) error {
	// A fixed time keeps the archive, and so the digests, reproducible.
	if err := w.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: time.Unix(0, 0)}); err != nil {
		return err
	}
	_, err := w.Write(data)
	return err
}

func descriptor(mediaType string, blob []byte, annotations map[string]string) map[string]any {
	d := map[string]any{"mediaType": mediaType, "digest": digestOf(blob), "size": len(blob)}
	if annotations != nil {
		d["annotations"] = annotations
	}
	return d
}

func digestOf(blob []byte) string {
	sum := sha256.Sum256(blob)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func blobPath(blob []byte) string {
	return "blobs/sha256/" + strings.TrimPrefix(digestOf(blob), "sha256:")
}
