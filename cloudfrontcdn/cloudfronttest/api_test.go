package cloudfronttest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	"github.com/aws/smithy-go"

	"github.com/easelhq/easel/cloudfrontcdn/cloudfronttest"
)

// The fake answers as CloudFront does, as the SDK reads it.
func TestAPIFake(t *testing.T) {
	const dist = "E2QWRUHAPOMQZL"
	api := cloudfronttest.NewAPI(t, "AKIDFAKE", "secret", dist)
	client := cloudfront.New(cloudfront.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDFAKE", "secret", ""),
		BaseEndpoint: aws.String(api.URL()),
	})
	ctx := context.Background()
	create := func(dist, ref string, quantity int, paths ...string) error {
		_, err := client.CreateInvalidation(ctx, &cloudfront.CreateInvalidationInput{
			DistributionId:    aws.String(dist),
			InvalidationBatch: &types.InvalidationBatch{CallerReference: aws.String(ref), Paths: &types.Paths{Quantity: aws.Int32(int32(quantity)), Items: paths}},
		})
		return err
	}
	out, err := client.CreateInvalidation(ctx, &cloudfront.CreateInvalidationInput{
		DistributionId:    aws.String(dist),
		InvalidationBatch: &types.InvalidationBatch{CallerReference: aws.String("r1"), Paths: &types.Paths{Quantity: aws.Int32(2), Items: []string{"/images/a.png", "/images/b.jpg"}}},
	})
	if err != nil {
		t.Fatalf("CreateInvalidation: %v", err)
	}
	if inv := out.Invalidation; inv == nil || !strings.HasPrefix(aws.ToString(inv.Id), "I") || aws.ToString(inv.Status) != "Completed" ||
		aws.ToInt32(inv.InvalidationBatch.Paths.Quantity) != 2 || out.Location == nil {
		t.Errorf("answer = %+v", out)
	}
	var (
		inconsistent *types.InconsistentQuantities
		tooLarge     *types.BatchTooLarge
		noDist       *types.NoSuchDistribution
		apiErr       smithy.APIError
		tooMany      *types.TooManyInvalidationsInProgress
	)
	if err := create(dist, "r2", 3, "/a"); !errors.As(err, &inconsistent) {
		t.Errorf("Quantity 3 with 1 path = %v, want InconsistentQuantities", err)
	}
	many := make([]string, cloudfronttest.MaxPathsInProgress+1)
	for i := range many {
		many[i] = fmt.Sprintf("/images/%d.png", i)
	}
	if err := create(dist, "r3", len(many), many...); !errors.As(err, &tooLarge) {
		t.Errorf("%d paths = %v, want BatchTooLarge", len(many), err)
	}
	if err := create("ENOPE", "r4", 1, "/a"); !errors.As(err, &noDist) {
		t.Errorf("unknown distribution = %v, want NoSuchDistribution", err)
	}
	if err := create(dist, "r1", 1, "/c"); !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidationBatchAlreadyExists" {
		t.Errorf("caller reference again with other paths = %v, want InvalidationBatchAlreadyExists", err)
	}
	if err := create(dist, "r1", 2, "/images/a.png", "/images/b.jpg"); err != nil {
		t.Errorf("the same batch again = %v, want the first invalidation's answer", err)
	}
	api.SetInProgressFor(1 << 40)
	if err := create(dist, "r5", 2999, many[:2999]...); !errors.As(err, &tooMany) {
		t.Errorf("2999 paths with 2 in progress = %v, want TooManyInvalidationsInProgress", err)
	}
	// Unsigned, or signed with another secret: 403.
	resp, err := http.Post(api.URL()+"/2020-05-31/distribution/"+dist+"/invalidation", "text/xml", strings.NewReader("<InvalidationBatch/>"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("unsigned POST = %d, want 403", resp.StatusCode)
	}
	bad := cloudfront.New(cloudfront.Options{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDFAKE", "other", ""), BaseEndpoint: aws.String(api.URL())})
	if _, err := bad.CreateInvalidation(ctx, &cloudfront.CreateInvalidationInput{DistributionId: aws.String(dist),
		InvalidationBatch: &types.InvalidationBatch{CallerReference: aws.String("r6"), Paths: &types.Paths{Quantity: aws.Int32(1), Items: []string{"/a"}}}}); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("wrong secret = %v, want 403", err)
	}
	if n := len(api.Invalidations()); n != 1 {
		t.Errorf("invalidations = %d, want only the first", n)
	}
}
