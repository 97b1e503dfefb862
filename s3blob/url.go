package s3blob

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Location is what an s3:// URL names: a bucket, a key prefix and client settings.
// Parameter names follow gocloud.dev's s3blob: s3://BUCKET?prefix=images/&region=eu-west-1&use_path_style=true.
type Location struct {
	Bucket string
	// Prefix is put before every key, as is ("images/" gives "images/<id>.png").
	Prefix string
	// Region overrides the SDK configuration's region when set.
	Region string
	// UsePathStyle addresses the bucket in the path (http://host/bucket/key) rather than
	// in the host name, as S3-compatible servers on loopback need.
	UsePathStyle bool
}

// ParseURL parses an s3:// URL. Unknown parameters are an error, so a typo cannot
// silently select the wrong bucket layout.
func ParseURL(rawURL string) (Location, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return Location{}, fmt.Errorf("parse blob URL: %w", err)
	}
	if u.Scheme != "s3" {
		return Location{}, fmt.Errorf("blob URL %q: scheme is %q, want s3", rawURL, u.Scheme)
	}
	if u.User != nil || u.Port() != "" || (u.Path != "" && u.Path != "/") || u.Opaque != "" || u.Fragment != "" {
		return Location{}, fmt.Errorf("blob URL %q: want s3://BUCKET?prefix=...", rawURL)
	}
	loc := Location{Bucket: u.Host}
	if err := checkBucket(loc.Bucket); err != nil {
		return Location{}, fmt.Errorf("blob URL %q: %w", rawURL, err)
	}
	for name, values := range u.Query() {
		if len(values) != 1 {
			return Location{}, fmt.Errorf("blob URL %q: parameter %q given %d times", rawURL, name, len(values))
		}
		v := values[0]
		switch name {
		case "prefix":
			if strings.HasPrefix(v, "/") {
				return Location{}, fmt.Errorf("blob URL %q: prefix must not start with /", rawURL)
			}
			// Without its slash, prefix=images would also list "images-backup/...":
			// every key under a prefix that is not a folder would be the sweeper's.
			if v != "" && !strings.HasSuffix(v, "/") {
				return Location{}, fmt.Errorf("blob URL %q: prefix must end with / (prefix=%s/)", rawURL, v)
			}
			loc.Prefix = v
		case "region":
			loc.Region = v
		case "use_path_style":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return Location{}, fmt.Errorf("blob URL %q: use_path_style=%q is not a boolean", rawURL, v)
			}
			loc.UsePathStyle = b
		default:
			return Location{}, fmt.Errorf("blob URL %q: unknown parameter %q (want prefix, region, use_path_style)", rawURL, name)
		}
	}
	return loc, nil
}

// checkBucket applies S3's general purpose bucket naming rules: 3 to 63 characters,
// lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit.
func checkBucket(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("bucket name %q must have 3 to 63 characters", b)
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || (c == '.' || c == '-') && i > 0 && i < len(b)-1
		if !ok {
			return fmt.Errorf("bucket name %q: character %q not allowed there", b, c)
		}
	}
	return nil
}
