package signedurl

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/cloudfrontcdn/cloudfronttest"
	"github.com/easelhq/easel/internal/secretstest"
)

// smClient is a Secrets Manager client of the SDK pointed at the fake.
func smClient(sm *secretstest.Server, accessKey, secret string) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region:       secretstest.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secret, ""),
		BaseEndpoint: aws.String(sm.URL()),
	})
}

func rsaKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSignerWithKeyFromSecretsManager(t *testing.T) {
	ctx := context.Background()
	key := rsaKey(t) // made at test time: no key is checked in
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	forms := map[string]string{
		"PKCS1": string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
		"PKCS8": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})),
	}
	sm := secretstest.NewServer(t)
	ak, sk := sm.Credentials()
	client := smClient(sm, ak, sk)
	const kid = "K2JCJMDEHXQW5F"
	edge := cloudfronttest.NewEdge(t, nil, map[string]*rsa.PublicKey{kid: &key.PublicKey})
	host := strings.TrimPrefix(edge.URL(), "http://")
	objKey := easel.ImageKey(easel.NewID(), "image/png")

	for name, text := range forms {
		t.Run(name, func(t *testing.T) {
			arn := sm.Put("easel/cloudfront-"+name, text)
			k, err := LoadPrivateKey(ctx, client, arn)
			if err != nil {
				t.Fatalf("LoadPrivateKey(%s): %v", arn, err)
			}
			cf, err := NewCloudFront(kid, k)
			if err != nil {
				t.Fatal(err)
			}
			raw := edge.URL() + "/images/" + objKey
			signed, err := cf.Sign(objKey, raw, time.Now().Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(signed)
			if err := edge.Check(u, host); err != nil {
				t.Errorf("edge refused %s: %v", signed, err)
			}
			if u.Query().Get("Key-Pair-Id") != kid {
				t.Errorf("Key-Pair-Id = %q", u.Query().Get("Key-Pair-Id"))
			}
			// Another path with this signature, and an expired URL, are refused.
			other := *u
			other.Path = "/images/" + easel.ImageKey(easel.NewID(), "image/png")
			if err := edge.Check(&other, host); err == nil {
				t.Error("edge took the signature for another path")
			}
			old, _ := cf.Sign(objKey, raw, time.Now().Add(-time.Second))
			ou, _ := url.Parse(old)
			if err := edge.Check(ou, host); err == nil {
				t.Error("edge took an expired URL")
			}
		})
	}
	if n := sm.Calls(); n != len(forms) {
		t.Errorf("GetSecretValue calls = %d, want %d (one per load)", n, len(forms))
	}

	t.Run("a key of another key pair is refused at the edge", func(t *testing.T) {
		cf, _ := NewCloudFront(kid, rsaKey(t))
		signed, _ := cf.Sign(objKey, edge.URL()+"/images/"+objKey, time.Now().Add(time.Hour))
		u, _ := url.Parse(signed)
		if err := edge.Check(u, host); err == nil {
			t.Error("edge took a signature by another key")
		}
	})
	t.Run("a missing secret", func(t *testing.T) {
		_, err := LoadPrivateKey(ctx, client, "arn:aws:secretsmanager:us-east-1:000000000000:secret:nope-abcdef")
		if err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
			t.Errorf("LoadPrivateKey(missing) = %v, want ResourceNotFoundException", err)
		}
	})
	t.Run("a secret that is not an RSA key", func(t *testing.T) {
		ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, _ := x509.MarshalPKCS8PrivateKey(ec)
		for name, text := range map[string]string{
			"text":  "hunter2",
			"ECDSA": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		} {
			arn := sm.Put("easel/not-a-key-"+name, text)
			if _, err := LoadPrivateKey(ctx, client, arn); err == nil || strings.Contains(err.Error(), text) {
				t.Errorf("LoadPrivateKey(%s) = %v, want an error that does not quote the secret", name, err)
			}
		}
	})
	t.Run("a request signed with other credentials", func(t *testing.T) {
		arn := sm.Put("easel/cloudfront-x", forms["PKCS1"])
		_, err := LoadPrivateKey(ctx, smClient(sm, ak, sk+"0"), arn)
		if err == nil || !strings.Contains(err.Error(), "403") {
			t.Errorf("LoadPrivateKey with a wrong secret key = %v, want a 403 refusal", err)
		}
	})
}
