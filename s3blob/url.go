package s3blob

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// Location is what an s3:// URL names: a bucket, a key prefix and client settings.
// Parameter names follow gocloud.dev's s3blob: s3://BUCKET?prefix=images/&region=eu-west-1&use_path_style=true.
//
// An S3 access point is named by its alias (s3://my-ap-...-s3alias, used as a bucket
// name) or by its ARN (s3://arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME); the SDK sends
// requests for an ARN to the access point's own endpoint, in the ARN's region.
type Location struct {
	// Bucket is the bucket name, an access point alias, or an access point ARN.
	Bucket string
	// AccessPointARN reports that Bucket is an access point ARN.
	AccessPointARN bool
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
	if rest, ok := strings.CutPrefix(rawURL, "s3://arn:"); ok {
		return parseARNURL(rawURL, "arn:"+rest)
	}
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
	if err := parseQuery(rawURL, u.Query(), &loc); err != nil {
		return Location{}, err
	}
	return loc, nil
}

// parseARNURL parses s3://arn:...:accesspoint/NAME?query: the ARN's colons make it no
// host url.Parse takes.
func parseARNURL(rawURL, rest string) (Location, error) {
	raw, query, _ := strings.Cut(rest, "?")
	if strings.ContainsAny(raw, "#@") {
		return Location{}, fmt.Errorf("blob URL %q: want s3://arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME?prefix=...", rawURL)
	}
	raw = strings.TrimSuffix(raw, "/")
	a, err := arn.Parse(raw)
	if err != nil {
		return Location{}, fmt.Errorf("blob URL %q: %w", rawURL, err)
	}
	if a.Service != "s3" {
		return Location{}, fmt.Errorf("blob URL %q: an ARN of service %q; want an S3 access point (arn:aws:s3:...:accesspoint/NAME; Object Lambda and Outposts access points are not supported)", rawURL, a.Service)
	}
	name, ok := strings.CutPrefix(a.Resource, "accesspoint/")
	if !ok {
		name, ok = strings.CutPrefix(a.Resource, "accesspoint:")
	}
	if !ok {
		return Location{}, fmt.Errorf("blob URL %q: ARN resource %q is not an access point (accesspoint/NAME)", rawURL, a.Resource)
	}
	if a.Region == "" {
		return Location{}, fmt.Errorf("blob URL %q: an ARN with no region (a Multi-Region Access Point) is not supported", rawURL)
	}
	if len(a.AccountID) != 12 || strings.Trim(a.AccountID, "0123456789") != "" {
		return Location{}, fmt.Errorf("blob URL %q: account %q is not 12 digits", rawURL, a.AccountID)
	}
	if err := checkAccessPointName(name); err != nil {
		return Location{}, fmt.Errorf("blob URL %q: %w", rawURL, err)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return Location{}, fmt.Errorf("blob URL %q: %w", rawURL, err)
	}
	loc := Location{Bucket: raw, AccessPointARN: true}
	if err := parseQuery(rawURL, q, &loc); err != nil {
		return Location{}, err
	}
	switch {
	case loc.UsePathStyle:
		return Location{}, fmt.Errorf("blob URL %q: use_path_style does not apply to an access point ARN", rawURL)
	case loc.Region != "" && loc.Region != a.Region:
		return Location{}, fmt.Errorf("blob URL %q: region=%s, but the access point is in %s", rawURL, loc.Region, a.Region)
	}
	loc.Region = a.Region
	return loc, nil
}

// checkAccessPointName applies S3's access point naming rules: 3 to 50 characters,
// lowercase letters, digits and hyphens, starting and ending with a letter or digit.
func checkAccessPointName(n string) error {
	if len(n) < 3 || len(n) > 50 {
		return fmt.Errorf("access point name %q must have 3 to 50 characters", n)
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' && i > 0 && i < len(n)-1) {
			return fmt.Errorf("access point name %q: character %q not allowed there", n, c)
		}
	}
	return nil
}

// parseQuery reads the URL's parameters into loc.
func parseQuery(rawURL string, query url.Values, loc *Location) error {
	for name, values := range query {
		if len(values) != 1 {
			return fmt.Errorf("blob URL %q: parameter %q given %d times", rawURL, name, len(values))
		}
		v := values[0]
		switch name {
		case "prefix":
			if strings.HasPrefix(v, "/") {
				return fmt.Errorf("blob URL %q: prefix must not start with /", rawURL)
			}
			// Without its slash, prefix=images would also list "images-backup/...":
			// every key under a prefix that is not a folder would be the sweeper's.
			if v != "" && !strings.HasSuffix(v, "/") {
				return fmt.Errorf("blob URL %q: prefix must end with / (prefix=%s/)", rawURL, v)
			}
			loc.Prefix = v
		case "region":
			loc.Region = v
		case "use_path_style":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("blob URL %q: use_path_style=%q is not a boolean", rawURL, v)
			}
			loc.UsePathStyle = b
		default:
			return fmt.Errorf("blob URL %q: unknown parameter %q (want prefix, region, use_path_style)", rawURL, name)
		}
	}
	return nil
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
