package kubenode

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// An archive is what `ctr images import` takes (an OCI image layout whose
// index names the image) and is the same bytes every time, so an image's
// digest does not change between runs.
func TestWriteImage(t *testing.T) {
	dir := t.TempDir()
	program := filepath.Join(dir, "program")
	if err := os.WriteFile(program, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	img := Image{Ref: "dsprobe.test/program:1", Files: map[string]string{"bin/program": program}, Entrypoint: []string{"/bin/program"}, User: "65532"}
	first, second := filepath.Join(dir, "1.tar"), filepath.Join(dir, "2.tar")
	for _, path := range []string{first, second} {
		if err := WriteImage(path, img); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := os.ReadFile(first)
	b, _ := os.ReadFile(second)
	if !bytes.Equal(a, b) {
		t.Error("two archives of one image differ")
	}

	files := untar(t, a)
	for name, data := range files {
		if digest, ok := strings.CutPrefix(name, "blobs/sha256/"); ok {
			if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != digest {
				t.Errorf("blob %s holds content of digest %x", name, sum)
			}
		}
	}
	var index struct {
		Manifests []struct {
			Digest      string
			Annotations map[string]string
		}
	}
	if err := json.Unmarshal(files["index.json"], &index); err != nil {
		t.Fatal(err)
	}
	if len(index.Manifests) != 1 || index.Manifests[0].Annotations["io.containerd.image.name"] != img.Ref {
		t.Fatalf("got index %+v, want one manifest named %s", index, img.Ref)
	}
	var manifest struct {
		Config struct{ Digest string }
		Layers []struct{ Digest string }
	}
	if err := json.Unmarshal(files[blob(index.Manifests[0].Digest)], &manifest); err != nil {
		t.Fatal(err)
	}
	var config struct {
		Config struct {
			User       string
			Entrypoint []string
		}
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		}
	}
	if err := json.Unmarshal(files[blob(manifest.Config.Digest)], &config); err != nil {
		t.Fatal(err)
	}
	if config.Config.User != "65532" || !slices.Equal(config.Config.Entrypoint, img.Entrypoint) {
		t.Errorf("got config %+v, want user 65532 and entrypoint %v", config.Config, img.Entrypoint)
	}
	if len(manifest.Layers) != 1 || !slices.Equal(config.RootFS.DiffIDs, []string{manifest.Layers[0].Digest}) {
		t.Fatalf("got layers %+v and diff IDs %v, want one uncompressed layer", manifest.Layers, config.RootFS.DiffIDs)
	}
	layer := untar(t, files[blob(manifest.Layers[0].Digest)])
	want := []string{"bin/", "bin/program", "etc/", "tmp/"}
	if got := slices.Sorted(maps.Keys(layer)); !slices.Equal(got, want) {
		t.Errorf("got layer entries %v, want %v", got, want)
	}
}

func TestWriteImageRefusesBadInput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.tar")
	for name, img := range map[string]Image{
		"no reference":       {Files: map[string]string{"bin/x": "/bin/true"}},
		"path outside image": {Ref: "dsprobe.test/x:1", Files: map[string]string{"../x": "/bin/true"}},
		"missing host file":  {Ref: "dsprobe.test/x:1", Files: map[string]string{"bin/x": "/nonexistent/x"}},
	} {
		if err := WriteImage(path, img); err == nil {
			t.Errorf("%s: got no error", name)
		}
	}
}

func blob(digest string) string { return "blobs/sha256/" + strings.TrimPrefix(digest, "sha256:") }

// untar returns the archive's entries by name (directories with an empty
// body).
func untar(t *testing.T, archive []byte) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	r := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := r.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name], _ = io.ReadAll(r)
	}
}
