package s3blob_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/easelhq/easel/s3blob"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url     string
		want    s3blob.Location
		wantErr bool
	}{
		{url: "s3://easel-images", want: s3blob.Location{Bucket: "easel-images"}},
		{url: "s3://easel-images?prefix=images/", want: s3blob.Location{Bucket: "easel-images", Prefix: "images/"}},
		{
			url:  "s3://my.bucket-1?prefix=a/b/&region=eu-west-1&use_path_style=true",
			want: s3blob.Location{Bucket: "my.bucket-1", Prefix: "a/b/", Region: "eu-west-1", UsePathStyle: true},
		},
		{url: "s3://abc?use_path_style=false", want: s3blob.Location{Bucket: "abc"}},
		{url: "s3://abc/", want: s3blob.Location{Bucket: "abc"}},
		{url: "file://./data", wantErr: true},
		{url: "s3://", wantErr: true},
		{url: "s3://ab", wantErr: true},
		{url: "s3://Upper-Case", wantErr: true},
		{url: "s3://-leading", wantErr: true},
		{url: "s3://bucket/extra/path", wantErr: true},
		{url: "s3://bucket:9000", wantErr: true},
		{url: "s3://user@bucket", wantErr: true},
		{url: "s3://bucket?endpoint=http://localhost", wantErr: true},
		{url: "s3://bucket?use_path_style=maybe", wantErr: true},
		{url: "s3://bucket?prefix=a/&prefix=b/", wantErr: true},
		{url: "s3://bucket?prefix=/abs/", wantErr: true},
		{url: "s3://bucket?prefix=images", wantErr: true}, // without its slash it would also cover images-old/…
		{url: "s3://bu_cket", wantErr: true},
		{url: "::", wantErr: true},
		// S3 access points: the alias is a bucket name; the ARN names its region.
		{url: "s3://easel-ap-hrzrlukc5m36ft7okagglf3gmwluquse1b-s3alias?prefix=images/", want: s3blob.Location{Bucket: "easel-ap-hrzrlukc5m36ft7okagglf3gmwluquse1b-s3alias", Prefix: "images/"}},
		{
			url:  "s3://arn:aws:s3:eu-west-1:123456789012:accesspoint/easel-images?prefix=images/",
			want: s3blob.Location{Bucket: "arn:aws:s3:eu-west-1:123456789012:accesspoint/easel-images", AccessPointARN: true, Prefix: "images/", Region: "eu-west-1"},
		},
		{
			url:  "s3://arn:aws-cn:s3:cn-north-1:123456789012:accesspoint:easel-images?region=cn-north-1",
			want: s3blob.Location{Bucket: "arn:aws-cn:s3:cn-north-1:123456789012:accesspoint:easel-images", AccessPointARN: true, Region: "cn-north-1"},
		},
		{url: "s3://arn:aws:s3:eu-west-1:123456789012:accesspoint/easel-images/", want: s3blob.Location{Bucket: "arn:aws:s3:eu-west-1:123456789012:accesspoint/easel-images", AccessPointARN: true, Region: "eu-west-1"}},
		{url: "s3://arn:aws:s3:eu-west-1:123456789012:accesspoint/easel-images?region=us-east-1", wantErr: true}, // not its region
		{url: "s3://arn:aws:s3:eu-west-1:123456789012:accesspoint/easel-images?use_path_style=true", wantErr: true},
		{url: "s3://arn:aws:s3:eu-west-1:123456789012:accesspoint/easel-images?prefix=images", wantErr: true},
		{url: "s3://arn:aws:s3:eu-west-1:123456789012:accesspoint/easel-images?color=red", wantErr: true},
		{url: "s3://arn:aws:s3:eu-west-1:123456789012:bucket/easel-images", wantErr: true},                  // not an access point
		{url: "s3://arn:aws:s3-object-lambda:eu-west-1:123456789012:accesspoint/olap", wantErr: true},       // Object Lambda
		{url: "s3://arn:aws:s3-outposts:eu-west-1:123456789012:outpost/op-1/accesspoint/ap", wantErr: true}, // Outposts
		{url: "s3://arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap", wantErr: true},                // Multi-Region
		{url: "s3://arn:aws:s3:eu-west-1:1234:accesspoint/easel-images", wantErr: true},
		{url: "s3://arn:aws:s3:eu-west-1:123456789012:accesspoint/Easel_Images", wantErr: true},
		{url: "s3://arn:aws:s3:eu-west-1:123456789012:accesspoint/ap", wantErr: true}, // too short
		{url: "s3://arn:aws:s3:eu-west-1", wantErr: true},
		{url: "s3://arn:aws:s3:eu-west-1:123456789012:accesspoint/easel-images#x", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			got, err := s3blob.ParseURL(tc.url)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseURL(%q) = %+v, %v; want error %v", tc.url, got, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("ParseURL(%q) = %+v, want %+v", tc.url, got, tc.want)
			}
		})
	}
}

func TestOpenChecks(t *testing.T) {
	withRegion := aws.Config{Region: "us-east-1"}
	tests := []struct {
		name    string
		cfg     aws.Config
		url     string
		public  string
		expiry  time.Duration
		wantErr bool
	}{
		{name: "defaults", cfg: withRegion, url: "s3://bucket"},
		{name: "region from URL", cfg: aws.Config{}, url: "s3://bucket?region=eu-west-1"},
		{name: "no region", cfg: aws.Config{}, url: "s3://bucket", wantErr: true},
		{name: "public base", cfg: withRegion, url: "s3://bucket", public: "https://cdn.example.com/images/"},
		{name: "public base not absolute", cfg: withRegion, url: "s3://bucket", public: "/images/", wantErr: true},
		{name: "public base with query", cfg: withRegion, url: "s3://bucket", public: "https://cdn.example.com/?a=b", wantErr: true},
		{name: "expiry too long", cfg: withRegion, url: "s3://bucket", expiry: 8 * 24 * time.Hour, wantErr: true},
		{name: "expiry negative", cfg: withRegion, url: "s3://bucket", expiry: -time.Minute, wantErr: true},
		{name: "bad URL", cfg: withRegion, url: "s3://x", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s3blob.Open(t.Context(), tc.cfg, tc.url, tc.public, tc.expiry)
			if (err != nil) != tc.wantErr {
				t.Errorf("Open(%q, %q, %v) = %v, want error %v", tc.url, tc.public, tc.expiry, err, tc.wantErr)
			}
		})
	}
}

func TestPublicURL(t *testing.T) {
	cfg := aws.Config{Region: "us-east-1"}
	for _, base := range []string{"https://cdn.example.com/images/", "https://cdn.example.com/images"} {
		s, err := s3blob.Open(t.Context(), cfg, "s3://bucket?prefix=images/", base, 0)
		if err != nil {
			t.Fatalf("Open(public base %q) = %v", base, err)
		}
		const key = "aaaaaaaaaaaaaaaaaaaaaaaaaa.png"
		got, err := s.URL(t.Context(), key)
		want := "https://cdn.example.com/images/" + key
		if err != nil || got != want {
			t.Errorf("URL(%q) with base %q = %q, %v; want %q", key, base, got, err, want)
		}
	}
}
