package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/dsprobe/dsprobe/internal/imagebuild"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("images", flag.ContinueOnError)
	o := imagebuild.Options{}
	fs.StringVar(&o.Repo, "repo", ".", "the dsprobe checkout to build from")
	fs.StringVar(&o.Out, "out", "", "directory to write the archives to (required)")
	fs.StringVar(&o.Registry, "registry", imagebuild.DefaultRegistry, "registry part of the image references")
	fs.StringVar(&o.Tag, "tag", imagebuild.DefaultTag, "tag of the image references")
	fs.StringVar(&o.Source, "source", imagebuild.DefaultSource, "the org.opencontainers.image.source label")
	fs.StringVar(&o.CABundle, "ca-bundle", imagebuild.DefaultCABundle, "PEM CA bundle to put in the images")
	fs.StringVar(&o.CABundleVersion, "ca-bundle-version", "", "where the CA bundle came from, e.g. \"debian ca-certificates 20230311+deb12u1\" (a label)")
	fs.StringVar(&o.Arch, "arch", "", "GOARCH to build for (default this machine's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.Out == "" || fs.NArg() > 0 {
		return errors.New("usage: images -out DIR [flags]")
	}
	epoch, err := imagebuild.SourceDateEpoch(ctx, o.Repo)
	if err != nil {
		return err
	}
	o.Epoch = epoch
	built, err := imagebuild.Build(ctx, o)
	if err != nil {
		return err
	}
	for _, b := range built {
		fmt.Fprintf(stdout, "%s %s %s\n", b.Ref, b.Digest, b.Archive)
	}
	return nil
}
