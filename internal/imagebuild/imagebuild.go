package imagebuild

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/buildinfo"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// A Spec is one image: a static Linux binary packaged alone.
type Spec struct {
	// Name is the binary's name in the image (/usr/local/bin/NAME, the
	// entrypoint) and the last element of the image's repository.
	Name        string
	Description string
	// Binary is the file packaged.
	Binary string
	// Version and Revision are the labels org.opencontainers.image.version
	// and .revision; Modified says the source had uncommitted changes.
	Version, Revision string
	Modified          bool
}

// commands are the project's commands that get an image, with their
// descriptions.
var commands = []struct{ name, description string }{
	{"prober", "dsprobe prober: runs probe jobs from its vantage point (a Kubernetes namespace)"},
	{"coordinator", "dsprobe coordinator: fans probe jobs out to the probers and keeps their results"},
	{"dsprobe", "dsprobe CLI: probes, simulates clients and reads Kubernetes evidence"},
}

// The defaults of Options: the references the deploy/ manifests use
// (dsprobe.local/prober:dev), which a node imports and never pulls.
const (
	DefaultRegistry = "dsprobe.local"
	DefaultTag      = "dev"
	DefaultSource   = "https://github.com/dsprobe/dsprobe"
	DefaultCABundle = "/etc/ssl/certs/ca-certificates.crt"
)

// The image's user: distroless's nonroot, so files and policies written for
// those images fit.
const (
	nonrootID   = 65532
	binDir      = "usr/local/bin"
	caBundleDir = "etc/ssl/certs"
)

// Options say what to build and how to name it.
type Options struct {
	// Repo is the checkout the binaries are built from.
	Repo string
	// Out is the directory the archives are written to (NAME.oci.tar).
	Out string
	// Registry and Tag make each image's reference REGISTRY/NAME:TAG.
	Registry, Tag string
	// Source is the org.opencontainers.image.source label.
	Source string
	// CABundle is the PEM file copied to /etc/ssl/certs/ca-certificates.crt;
	// CABundleVersion says where it came from (a label).
	CABundle, CABundleVersion string
	// Arch is the GOARCH built for (the OS is linux); empty: this
	// machine's.
	Arch string
	// Epoch is every timestamp of the images (SOURCE_DATE_EPOCH).
	Epoch time.Time
}

func (o Options) arch() string {
	if o.Arch == "" {
		return runtime.GOARCH
	}
	return o.Arch
}

// A Built image: its reference, its manifest's digest and its archive.
type Built struct {
	Ref, Archive string
	Digest       v1.Hash
}

// SourceDateEpoch is $SOURCE_DATE_EPOCH, else the time of repo's HEAD commit.
func SourceDateEpoch(ctx context.Context, repo string) (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		var err error
		if s, err = git(ctx, repo, "log", "-1", "--format=%ct", "HEAD"); err != nil {
			return time.Time{}, fmt.Errorf("the commit's time (set SOURCE_DATE_EPOCH outside a git checkout): %w", err)
		}
	}
	secs, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: want seconds since 1970", s)
	}
	return time.Unix(secs, 0).UTC(), nil
}

// Build builds the images of the project's commands (prober, coordinator,
// dsprobe) from o.Repo into o.Out, each labelled with the version and
// revision the Go toolchain stamped into its binary.
func Build(ctx context.Context, o Options) ([]Built, error) {
	work, err := os.MkdirTemp("", "dsprobe-images-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	src, bin := filepath.Join(work, "src"), filepath.Join(work, "bin")
	if err := checkoutHead(ctx, o.Repo, src); err != nil {
		return nil, err
	}
	if err := buildCommands(ctx, o.arch(), src, bin); err != nil {
		return nil, err
	}
	var built []Built
	for _, c := range commands {
		spec := Spec{Name: c.name, Description: c.description, Binary: filepath.Join(bin, c.name)}
		if err := spec.readStamp(); err != nil {
			return nil, err
		}
		b, err := Image(o, spec)
		if err != nil {
			return nil, err
		}
		built = append(built, b)
	}
	return built, nil
}

// checkoutHead checks repo's HEAD commit out into dir, a clone sharing its
// objects. The images are built from the commit and never from uncommitted
// changes, so their revision label says what they hold; and from a clone of
// its own, because the Go toolchain stamps the revision only where .git is
// a directory (not in a git worktree, whose .git is a file).
func checkoutHead(ctx context.Context, repo, dir string) error {
	head, err := git(ctx, repo, "rev-parse", "--verify", "HEAD^{commit}")
	if err != nil {
		return err
	}
	if _, err := git(ctx, repo, "clone", "--quiet", "--shared", "--no-checkout", ".", dir); err != nil {
		return err
	}
	_, err = git(ctx, dir, "checkout", "--quiet", "--detach", head)
	return err
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return strings.TrimSpace(string(out)), nil
}

// buildCommands builds every command of the checkout src, static and
// stamped, into dir.
func buildCommands(ctx context.Context, arch, src, dir string) error {
	args := []string{"build", "-trimpath", "-ldflags=-s -w", "-o", dir + string(filepath.Separator)}
	for _, c := range commands {
		args = append(args, "./cmd/"+c.name)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = src
	// -buildvcs=true: the revision internal/buildinfo reports must be there
	// (a GOFLAGS of -buildvcs=false in the environment would drop it).
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOFLAGS=-buildvcs=true", "GOWORK=off")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// readStamp fills s's version and revision from what the Go toolchain
// recorded in its binary (internal/buildinfo reads the same).
func (s *Spec) readStamp() error {
	bi, err := buildinfo.ReadFile(s.Binary)
	if err != nil {
		return err
	}
	s.Version = bi.Main.Version
	for _, kv := range bi.Settings {
		switch kv.Key {
		case "vcs.revision":
			s.Revision = kv.Value
		case "vcs.modified":
			s.Modified = kv.Value == "true"
		}
	}
	if s.Revision == "" {
		return fmt.Errorf("%s records no VCS revision: build from a git checkout", s.Binary)
	}
	return nil
}

// Image packages spec's binary as the image REGISTRY/NAME:TAG of o and
// writes its archive, NAME.oci.tar, into o.Out.
func Image(o Options, spec Spec) (Built, error) {
	b, err := image(o, spec)
	if err != nil {
		return Built{}, fmt.Errorf("image %s: %w", spec.Name, err)
	}
	return b, nil
}

func image(o Options, spec Spec) (Built, error) {
	ca, err := os.ReadFile(o.CABundle)
	if err != nil {
		return Built{}, fmt.Errorf("the CA bundle: %w", err)
	}
	if !bytes.Contains(ca, []byte("-----BEGIN CERTIFICATE-----")) {
		return Built{}, fmt.Errorf("the CA bundle %s holds no PEM certificate", o.CABundle)
	}
	exe, err := os.ReadFile(spec.Binary)
	if err != nil {
		return Built{}, err
	}
	layerTar, err := rootFS(o.Epoch, spec.Name, exe, ca)
	if err != nil {
		return Built{}, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return Built{}, err
	}
	created := v1.Time{Time: o.Epoch}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: created, CreatedBy: "scripts/images: the static " + spec.Name + " binary, passwd, group, CA bundle, /tmp"},
	})
	if err != nil {
		return Built{}, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return Built{}, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Created = "linux", o.arch(), created
	labels := map[string]string{
		"org.opencontainers.image.title":   spec.Name,
		"org.opencontainers.image.created": o.Epoch.Format(time.RFC3339),
	}
	for key, value := range map[string]string{
		"org.opencontainers.image.description": spec.Description,
		"org.opencontainers.image.source":      o.Source,
		"org.opencontainers.image.version":     spec.Version,
		"org.opencontainers.image.revision":    spec.Revision,
		"io.dsprobe.ca-certificates":           o.CABundleVersion,
	} {
		if value != "" {
			labels[key] = value
		}
	}
	if spec.Modified {
		// The version Go stamps already ends in +dirty; say it where
		// people look for the revision too.
		labels["io.dsprobe.modified"] = "true"
	}
	cfg.Config = v1.Config{
		User:       fmt.Sprintf("%d:%d", nonrootID, nonrootID),
		Entrypoint: []string{"/" + binDir + "/" + spec.Name},
		Env:        []string{"PATH=/" + binDir},
		WorkingDir: "/",
		Labels:     labels,
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return Built{}, err
	}
	digest, err := img.Digest()
	if err != nil {
		return Built{}, err
	}

	ref := o.Registry + "/" + spec.Name + ":" + o.Tag
	dir, err := os.MkdirTemp("", "dsprobe-layout-")
	if err != nil {
		return Built{}, err
	}
	defer os.RemoveAll(dir)
	path, err := layout.Write(dir, empty.Index)
	if err != nil {
		return Built{}, err
	}
	if err := path.WriteImage(img); err != nil {
		return Built{}, err
	}
	manifest, err := img.RawManifest()
	if err != nil {
		return Built{}, err
	}
	// The index entry is written by hand: go-containerregistry would add an
	// artifactType, which belongs to artifacts, not images. containerd
	// names the imported image by io.containerd.image.name;
	// org.opencontainers.image.ref.name is the OCI spec's tag.
	err = path.AppendDescriptor(v1.Descriptor{
		MediaType: types.OCIManifestSchema1,
		Size:      int64(len(manifest)),
		Digest:    digest,
		Annotations: map[string]string{
			"io.containerd.image.name":          ref,
			"org.opencontainers.image.ref.name": o.Tag,
		},
	})
	if err != nil {
		return Built{}, err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return Built{}, err
	}
	archive := filepath.Join(o.Out, spec.Name+".oci.tar")
	if err := tarDir(dir, archive, o.Epoch); err != nil {
		return Built{}, err
	}
	return Built{Ref: ref, Digest: digest, Archive: archive}, nil
}

// rootFS is the image's one layer, uncompressed.
func rootFS(epoch time.Time, name string, exe, ca []byte) ([]byte, error) {
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%[1]d:%[1]d:nonroot:/home/nonroot:/sbin/nologin\n", nonrootID)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", nonrootID)
	dir := func(name string, mode int64, owner int) *tar.Header {
		return &tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: owner, Gid: owner}
	}
	file := func(name string, mode int64, content []byte) (*tar.Header, []byte) {
		return &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(content))}, content
	}
	type entry struct {
		h    *tar.Header
		body []byte
	}
	var entries []entry
	add := func(h *tar.Header, body []byte) { entries = append(entries, entry{h, body}) }
	add(dir("etc", 0o755, 0), nil)
	add(file("etc/group", 0o644, []byte(group)))
	add(file("etc/passwd", 0o644, []byte(passwd)))
	add(dir("etc/ssl", 0o755, 0), nil)
	add(dir(caBundleDir, 0o755, 0), nil)
	add(file(caBundleDir+"/ca-certificates.crt", 0o644, ca))
	add(dir("home", 0o755, 0), nil)
	add(dir("home/nonroot", 0o700, nonrootID), nil)
	add(dir("tmp", 0o1777, 0), nil)
	add(dir("usr", 0o755, 0), nil)
	add(dir("usr/local", 0o755, 0), nil)
	add(dir(binDir, 0o755, 0), nil)
	add(file(binDir+"/"+name, 0o755, exe))

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		e.h.ModTime = epoch
		e.h.Format = tar.FormatPAX
		if err := tw.WriteHeader(e.h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// tarDir writes the files under dir to the tar archive at path, in lexical
// order, every entry owned by 0:0 with modification time epoch, so the same
// files make the same archive.
func tarDir(dir, path string, epoch time.Time) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: epoch, Mode: 0o644, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if d.IsDir() {
			h.Name, h.Mode, h.Typeflag = h.Name+"/", 0o755, tar.TypeDir
			return tw.WriteHeader(h)
		}
		body, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h.Size = int64(len(body))
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err = tw.Write(body)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
