package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudfront"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/cloudfrontcdn"
)

// cdnFlags are the settings of CloudFront invalidation on delete.
type cdnFlags struct {
	distribution string
	window       time.Duration
}

func (c *cdnFlags) bind(f *envFlags) {
	f.String(&c.distribution, "cloudfront-distribution", "EASEL_CLOUDFRONT_DISTRIBUTION", "", "CloudFront distribution id (E...) in front of --public-url: deleting an image invalidates its and its thumbnail's paths there, batched (private mode or not)")
	f.Duration(&c.window, "cloudfront-invalidation-window", "EASEL_CLOUDFRONT_INVALIDATION_WINDOW", cloudfrontcdn.DefaultWindow, "how long deleted paths are collected into one CloudFront invalidation (must be positive); what is left is sent on shutdown")
}

func (c *cdnFlags) check(publicURL string) error {
	if err := checkNumber("cloudfront-invalidation-window", c.window.Seconds(), true); err != nil {
		return err
	}
	if c.distribution != "" && publicURL == "" {
		return usageError{fmt.Errorf("--cloudfront-distribution needs --public-url (the distribution's address of the images)")}
	}
	return nil
}

// invalidateDeletes wraps the blob store so that the paths of deleted objects are
// invalidated in the distribution, and returns the function that sends what is left
// (on shutdown). Without --cloudfront-distribution it returns blobs as they are.
func invalidateDeletes(ctx context.Context, c *cdnFlags, blobs easel.BlobStore, publicURL string, l *awsLoader, log *slog.Logger) (easel.BlobStore, func(), error) {
	if c.distribution == "" {
		return blobs, func() {}, nil
	}
	u, err := url.Parse(publicURL)
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("--public-url %q: %w", publicURL, err)}
	}
	prefix := u.EscapedPath()
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	cfg, err := l.load(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("--cloudfront-distribution: %w", err)
	}
	// CloudFront is a global service whose API lives in us-east-1.
	client := cloudfront.NewFromConfig(cfg, func(o *cloudfront.Options) { o.Region = "us-east-1" })
	inv, err := cloudfrontcdn.New(client, cloudfrontcdn.Options{Distribution: c.distribution, Window: c.window, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	return cloudfrontcdn.NewStore(blobs, inv, prefix), func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = inv.Close(cctx) // logged
	}, nil
}
