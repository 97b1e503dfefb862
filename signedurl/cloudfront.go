package signedurl

import (
	"bytes"
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/cloudfront/sign"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// CloudFront signs URLs with a CloudFront canned policy (Expires, Signature and
// Key-Pair-Id in the query), with the private key of a public key in the distribution's
// trusted key group. The URL must be the one clients fetch (scheme, host, path).
type CloudFront struct {
	signer *sign.URLSigner
}

// NewCloudFront returns a signer for the public key keyPairID (the id CloudFront gave
// the public key, K...) with its private key.
func NewCloudFront(keyPairID string, key *rsa.PrivateKey) (*CloudFront, error) {
	if keyPairID == "" {
		return nil, errors.New("signedurl: no CloudFront key pair id")
	}
	if key == nil {
		return nil, errors.New("signedurl: no CloudFront private key")
	}
	return &CloudFront{signer: sign.NewURLSigner(keyPairID, key)}, nil
}

// Sign signs rawURL with a canned policy that expires at expires.
func (c *CloudFront) Sign(_, rawURL string, expires time.Time) (string, error) {
	u, err := c.signer.Sign(rawURL, expires)
	if err != nil {
		return "", fmt.Errorf("sign CloudFront URL: %w", err)
	}
	return u, nil
}

// ParsePrivateKey reads an RSA private key in PEM, PKCS #1 ("RSA PRIVATE KEY", what
// openssl genrsa writes, as CloudFront's guide does) or PKCS #8 ("PRIVATE KEY").
// CloudFront key groups take RSA 2048-bit keys.
func ParsePrivateKey(pemText []byte) (*rsa.PrivateKey, error) {
	if k, err := sign.LoadPEMPrivKey(bytes.NewReader(pemText)); err == nil {
		return k, nil
	}
	k, err := sign.LoadPEMPrivKeyPKCS8(bytes.NewReader(pemText))
	if err != nil {
		return nil, errors.New("not a PEM RSA private key (PKCS #1 or PKCS #8)")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an RSA private key", k)
	}
	return rk, nil
}

// SecretGetter is the Secrets Manager call LoadPrivateKey makes.
type SecretGetter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// LoadPrivateKey reads the CloudFront private key from the Secrets Manager secret
// secretID (an ARN or a name), whose current value is the key in PEM (SecretString).
func LoadPrivateKey(ctx context.Context, sm SecretGetter, secretID string) (*rsa.PrivateKey, error) {
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretID)})
	if err != nil {
		return nil, fmt.Errorf("read CloudFront private key from secret %s: %w", secretID, err)
	}
	text := aws.ToString(out.SecretString)
	if text == "" {
		text = string(out.SecretBinary)
	}
	k, err := ParsePrivateKey([]byte(strings.TrimSpace(text)))
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", secretID, err)
	}
	return k, nil
}
