package boottest

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/easelhq/easel/infra/stacks"
)

// signingKey is a CloudFront signing key pair as the deploy-time function makes it:
// RSA 2048, the private key PEM-encoded PKCS#8, generated at test time.
type signingKey struct {
	key *rsa.PrivateKey
	pem string
}

func newSigningKey(t *testing.T) *signingKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return &signingKey{key: k, pem: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))}
}

// TestBootPrivateImages boots the privateImages=true deployment's user data, unchanged,
// as TestBoot does the default's: Easel starts with the signing settings the template
// gives it, reads the private key from Secrets Manager (the fake holds the key the
// deploy-time function would have generated), and answers a generation with an image
// URL signed for CloudFront with that key: the key id the template names, an expiry
// an hour ahead, a valid RSA-SHA1 canned-policy signature; the image is in S3 through
// the access point alias; neither the origin secret nor the key reaches a log.
func TestBootPrivateImages(t *testing.T) {
	if os.Getenv(RequireEnv) != "1" {
		t.Skipf("set %s=1 to run the boot test (needs root; scripts/test.sh runs it)", RequireEnv)
	}
	if os.Geteuid() != 0 {
		t.Fatalf("%s=1 but not root: the boot test needs namespaces, mounts and chroot", RequireEnv)
	}
	w := newWorld(t, map[string]string{stacks.KeyPrivateImages: "true"})
	if w.signingKey == nil || w.keyPairID == "" {
		t.Fatal("the private images template has no signing key secret or public key")
	}
	w.boot(t)
	if t.Failed() {
		return
	}
	t.Run("signal", w.checkSignal)
	t.Run("signed image URL", w.checkSignedURL)
	t.Run("no secret in logs", w.checkNoSecretLeak)
}

func (w *world) checkSignedURL(t *testing.T) {
	if w.secrets.Calls() == 0 {
		t.Error("Easel did not read the signing key from Secrets Manager")
	}
	key := w.createKey(t)
	start := time.Now()
	status, body := w.generate(t, key, "a lighthouse on a cliff at dusk, signed")
	if status != http.StatusCreated {
		t.Fatalf("POST /v1/images = %d: %s", status, body)
	}
	var res struct {
		Images []struct {
			URL string `json:"url"`
		} `json:"images"`
	}
	if err := json.Unmarshal(body, &res); err != nil || len(res.Images) != 1 {
		t.Fatalf("POST /v1/images answer %s: %v", body, err)
	}
	u, err := url.Parse(res.Images[0].URL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("Key-Pair-Id") != w.keyPairID {
		t.Errorf("Key-Pair-Id %q, want the template's public key %q", q.Get("Key-Pair-Id"), w.keyPairID)
	}
	expires, err := strconv.ParseInt(q.Get("Expires"), 10, 64)
	ahead := time.Until(time.Unix(expires, 0))
	if err != nil || ahead < 30*time.Minute || time.Unix(expires, 0).After(start.Add(stacks.PrivateImageExpiry+time.Minute)) {
		t.Errorf("Expires %q (%v ahead), want within the %v expiry", q.Get("Expires"), ahead, stacks.PrivateImageExpiry)
	}
	resource := u.Scheme + "://" + u.Host + u.EscapedPath()
	if rest := stripSigningParams(u.RawQuery); rest != "" {
		resource += "?" + rest
	}
	if want := "https://" + w.site + "/" + stacks.ImagePrefix; !strings.HasPrefix(resource, want) {
		t.Fatalf("image URL %s, want one under %s", resource, want)
	}
	policy := fmt.Sprintf(`{"Statement":[{"Resource":"%s","Condition":{"DateLessThan":{"AWS:EpochTime":%d}}}]}`, resource, expires)
	sig, err := base64.StdEncoding.DecodeString(strings.NewReplacer("-", "+", "_", "=", "~", "/").Replace(q.Get("Signature")))
	sum := sha1.Sum([]byte(policy))
	if err != nil || rsa.VerifyPKCS1v15(&w.signingKey.key.PublicKey, crypto.SHA1, sum[:], sig) != nil {
		t.Errorf("the URL's signature does not verify with the signing key (canned policy %s)", policy)
	}
	objKey := strings.TrimPrefix(u.Path, "/")
	if _, err := w.s3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(w.bucket), Key: aws.String(objKey)}); err != nil {
		t.Errorf("the image is not in %s under %s: %v", w.bucket, objKey, err)
	}
}

// stripSigningParams removes Expires, Signature and Key-Pair-Id from a raw query.
func stripSigningParams(raw string) string {
	var keep []string
	for _, p := range strings.Split(raw, "&") {
		name, _, _ := strings.Cut(p, "=")
		if p != "" && name != "Expires" && name != "Signature" && name != "Key-Pair-Id" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, "&")
}
