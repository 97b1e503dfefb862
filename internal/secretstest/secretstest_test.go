package secretstest_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/easelhq/easel/internal/secretstest"
)

// The fake answers GetSecretValue as Secrets Manager does, as the SDK reads it.
func TestFake(t *testing.T) {
	sm := secretstest.NewServer(t)
	ak, sk := sm.Credentials()
	client := secretsmanager.New(secretsmanager.Options{
		Region:       secretstest.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(ak, sk, ""),
		BaseEndpoint: aws.String(sm.URL()),
	})
	ctx := context.Background()
	arn := sm.Put("app/key", "v1")
	if !strings.HasPrefix(arn, "arn:aws:secretsmanager:us-east-1:000000000000:secret:app/key-") {
		t.Errorf("ARN = %s", arn)
	}
	for _, id := range []string{arn, "app/key"} {
		out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
		if err != nil || aws.ToString(out.SecretString) != "v1" || aws.ToString(out.ARN) != arn || aws.ToString(out.Name) != "app/key" {
			t.Errorf("GetSecretValue(%s) = %+v, %v", id, out, err)
		}
	}
	sm.Put("app/key", "v2") // a new version
	out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionStage: aws.String("AWSCURRENT")})
	if err != nil || aws.ToString(out.SecretString) != "v2" {
		t.Errorf("after a new version: %+v, %v", out, err)
	}
	var nf *types.ResourceNotFoundException
	if _, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("nope")}); !errors.As(err, &nf) {
		t.Errorf("missing secret = %v, want ResourceNotFoundException", err)
	}
	if _, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionStage: aws.String("AWSPREVIOUS")}); !errors.As(err, &nf) {
		t.Errorf("AWSPREVIOUS = %v, want ResourceNotFoundException (one version is kept)", err)
	}
	resp, err := http.Post(sm.URL(), "application/x-amz-json-1.1", strings.NewReader(`{"SecretId":"app/key"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusForbidden {
		t.Errorf("unsigned request = %d, want a refusal", resp.StatusCode)
	}
	if n := sm.Calls(); n != 5 {
		t.Errorf("Calls = %d, want 5 (the signed GetSecretValue calls)", n)
	}
}
