package imagebuild_test

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	gobuildinfo "debug/buildinfo"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/dsprobe/dsprobe/internal/buildinfo"
	"github.com/dsprobe/dsprobe/internal/imagebuild"
	"github.com/dsprobe/dsprobe/internal/testsupport/modroot"
)

// The same commit builds the same images twice, byte for byte, and each is
// what a cluster under PSS restricted needs: a valid OCI image, named for
// containerd, running as 65532:65532 with no shell, a static binary that
// reports the commit it was built from, and the OCI labels.
func TestBuildIsReproducibleAndNonRoot(t *testing.T) {
	repo := modroot.Dir(t)
	epoch, err := imagebuild.SourceDateEpoch(t.Context(), repo)
	if err != nil {
		t.Fatal(err)
	}
	head := strings.TrimSpace(run(t, "git", "-C", repo, "rev-parse", "HEAD"))
	options := func(out string) imagebuild.Options {
		return imagebuild.Options{
			Repo: repo, Out: out, Registry: imagebuild.DefaultRegistry, Tag: imagebuild.DefaultTag,
			Source: imagebuild.DefaultSource, CABundle: imagebuild.DefaultCABundle, CABundleVersion: "test bundle", Epoch: epoch,
		}
	}
	first, err := imagebuild.Build(t.Context(), options(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	second, err := imagebuild.Build(t.Context(), options(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 3 || len(second) != 3 {
		t.Fatalf("got %d and %d images, want 3 each (prober, coordinator, dsprobe)", len(first), len(second))
	}
	for i, b := range first {
		if b.Ref != second[i].Ref || b.Digest != second[i].Digest {
			t.Errorf("built twice: got %s %s then %s %s, want the same digest", b.Ref, b.Digest, second[i].Ref, second[i].Digest)
		}
		if a, b := fileDigest(t, b.Archive), fileDigest(t, second[i].Archive); a != b {
			t.Errorf("%s: the archives differ (sha256 %x, %x)", first[i].Ref, a, b)
		}
	}

	for _, b := range first {
		name := strings.TrimSuffix(filepath.Base(b.Archive), ".oci.tar")
		t.Run(name, func(t *testing.T) {
			if want := "dsprobe.local/" + name + ":dev"; b.Ref != want {
				t.Errorf("got reference %s, want %s", b.Ref, want)
			}
			img := imageOf(t, b)
			if err := validate.Image(img); err != nil {
				t.Errorf("not a valid OCI image: %v", err)
			}
			cfg, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Config.User != "65532:65532" {
				t.Errorf("got user %q, want 65532:65532", cfg.Config.User)
			}
			if want := []string{"/usr/local/bin/" + name}; !slices.Equal(cfg.Config.Entrypoint, want) {
				t.Errorf("got entrypoint %q, want %q", cfg.Config.Entrypoint, want)
			}
			if !cfg.Created.Equal(epoch) {
				t.Errorf("got created %v, want SOURCE_DATE_EPOCH %v", cfg.Created, epoch)
			}
			labels := cfg.Config.Labels
			for key, want := range map[string]string{
				"org.opencontainers.image.source":   imagebuild.DefaultSource,
				"org.opencontainers.image.revision": head,
				"io.dsprobe.ca-certificates":        "test bundle",
			} {
				if labels[key] != want {
					t.Errorf("label %s: got %q, want %q", key, labels[key], want)
				}
			}
			if labels["org.opencontainers.image.version"] == "" {
				t.Error("no org.opencontainers.image.version label")
			}

			files := filesOf(t, img)
			for _, shell := range []string{"bin/sh", "bin/bash", "bin/busybox"} {
				if _, ok := files[shell]; ok {
					t.Errorf("the image holds %s, want no shell", shell)
				}
			}
			if h, ok := files["tmp"]; !ok || h.hdr.Typeflag != tar.TypeDir || h.hdr.Mode&0o1777 != 0o1777 {
				t.Errorf("got /tmp %+v, want a directory with mode 1777", h.hdr)
			}
			if !strings.Contains(string(files["etc/passwd"].body), ":65532:65532:") ||
				!strings.Contains(string(files["etc/group"].body), ":65532:") {
				t.Error("etc/passwd and etc/group do not name 65532")
			}
			if ca := files["etc/ssl/certs/ca-certificates.crt"].body; !bytes.Contains(ca, []byte("BEGIN CERTIFICATE")) {
				t.Error("no CA bundle at /etc/ssl/certs/ca-certificates.crt")
			}
			exe := files["usr/local/bin/"+name].body
			checkStatic(t, exe)
			bi, err := gobuildinfo.Read(bytes.NewReader(exe))
			info := buildinfo.From(bi, err == nil)
			if info.Revision != head || info.Modified {
				t.Errorf("the binary reports revision %q (modified %v), want %s: --version would not say what it holds", info.Revision, info.Modified, head)
			}
			if info.Version != labels["org.opencontainers.image.version"] {
				t.Errorf("the binary reports version %q, the label says %q", info.Version, labels["org.opencontainers.image.version"])
			}
			t.Run("runs in its root file system as 65532", func(t *testing.T) {
				// The servers print one line, the CLI a few; both name the
				// command, its version and its revision.
				out := runInRootFS(t, files, cfg.Config.Entrypoint[0], "--version")
				if !strings.HasPrefix(out, name+" "+info.Version) || !strings.Contains(out, head) {
					t.Errorf("%s --version in the image: got %q, want %s %s and revision %s", name, out, name, info.Version, head)
				}
			})
		})
	}
}

// runInRootFS unpacks files into a directory and runs the command there
// as the image would: chrooted into it, as UID and GID 65532, with no
// environment but the image's PATH. It needs root (for chroot).
func runInRootFS(t *testing.T, files map[string]file, command string, args ...string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("running an image's root file system needs root (CI is true, so this fails instead of skipping)")
		}
		t.Skip("running an image's root file system needs root")
	}
	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for p, f := range files {
		target := filepath.Join(root, filepath.FromSlash(p))
		mode := os.FileMode(f.hdr.Mode).Perm()
		if f.hdr.Mode&0o1000 != 0 {
			mode |= os.ModeSticky // /tmp
		}
		switch f.hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(target, f.body, 0o644); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("%s: unexpected entry type %c", p, f.hdr.Typeflag)
		}
		if err := os.Chmod(target, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(target, f.hdr.Uid, f.hdr.Gid); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(command, args...)
	cmd.Env = []string{"PATH=/usr/local/bin"}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root, Credential: &syscall.Credential{Uid: 65532, Gid: 65532}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v in the image's root file system: %v\n%s", command, args, err, out)
	}
	return string(out)
}

// Bad input is named, not packaged.
func TestImageRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := imagebuild.Options{Out: dir, Registry: "r", Tag: "t", CABundle: notPEM, Epoch: time.Unix(0, 0)}
	_, err := imagebuild.Image(o, imagebuild.Spec{Name: "x", Binary: filepath.Join(dir, "x")})
	if err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("a CA bundle without a certificate: got %v, want an error naming it", err)
	}
	o.CABundle = imagebuild.DefaultCABundle
	_, err = imagebuild.Image(o, imagebuild.Spec{Name: "x", Binary: filepath.Join(dir, "missing")})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing binary: got %v, want not exist", err)
	}

	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	if _, err := imagebuild.SourceDateEpoch(t.Context(), dir); err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
		t.Errorf("SOURCE_DATE_EPOCH=yesterday: got %v, want an error naming it", err)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	if got, err := imagebuild.SourceDateEpoch(t.Context(), dir); err != nil || !got.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("SOURCE_DATE_EPOCH=1700000000: got %v, %v", got, err)
	}
}

// imageOf reads the one image of b's archive as a runtime would: the
// archive unpacked, the layout's index, the entry named b.Ref.
func imageOf(t *testing.T, b imagebuild.Built) v1.Image {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Open(b.Archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	index, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(manifest.Manifests) != 1 {
		t.Fatalf("got %d index entries, want 1", len(manifest.Manifests))
	}
	entry := manifest.Manifests[0]
	if got := entry.Annotations["io.containerd.image.name"]; got != b.Ref {
		t.Errorf("got io.containerd.image.name %q, want %q (the name ctr import gives it)", got, b.Ref)
	}
	if entry.Digest != b.Digest {
		t.Errorf("got index entry %s, want the digest printed, %s", entry.Digest, b.Digest)
	}
	img, err := index.Image(entry.Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

type file struct {
	hdr  *tar.Header
	body []byte
}

// filesOf is the image's file system, by path.
func filesOf(t *testing.T, img v1.Image) map[string]file {
	t.Helper()
	files := map[string]file{}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = file{h, body}
	}
}

// checkStatic fails unless exe is a Linux ELF executable that asks for no
// dynamic loader, as there is none in the image.
func checkStatic(t *testing.T, exe []byte) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(exe))
	if err != nil {
		t.Fatalf("the binary is not ELF: %v", err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary is dynamically linked (PT_INTERP): the image has no loader")
		}
	}
}

func fileDigest(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return string(out)
}
