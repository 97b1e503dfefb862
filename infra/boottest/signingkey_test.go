package boottest

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/easelhq/easel/infra/stacks"
)

// TestSigningKeyFunction runs the private images' signing key function (the code the
// template inlines) in Node.js with the Secrets Manager client the Lambda runtime
// provides, against a Secrets Manager wire fake on loopback: a Create generates an RSA
// 2048 key into the secret and answers CloudFormation with its public half only; an
// Update (or a retried Create) keeps the key and answers the same public key; a secret
// it cannot read fails the resource with the reason; a Delete touches nothing. It
// needs node and the SDK clients (infra/boottest/testdata/lambda-sdk: npm ci), no root;
// with EASEL_TEST_BOOT=1 their absence is an error, else a skip.
func TestSigningKeyFunction(t *testing.T) {
	sdk, _ := filepath.Abs("testdata/lambda-sdk/node_modules")
	node, err := exec.LookPath("node")
	if err != nil || !fileExists(filepath.Join(sdk, "@aws-sdk/client-secrets-manager")) {
		msg := "needs node and the Lambda SDK clients: (cd infra/boottest/testdata/lambda-sdk && npm ci)"
		if os.Getenv(RequireEnv) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ak, sk := "SIGN"+strings.ToUpper(randomString(12, lowerDigits)), randomString(32, lowerDigits)
	const secretArn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:SigningKeySecret1-AbCdEf"
	sm := &secretsFake{accessKey: ak, secrets: map[string]string{secretArn: randomString(32, alnum)}}
	smSrv := httptest.NewServer(sm)
	defer smSrv.Close()
	sink := &responseSink{}
	sinkSrv := httptest.NewServer(sink)
	defer sinkSrv.Close()

	run := func(t *testing.T, requestType, secret string) map[string]interface{} {
		t.Helper()
		event := map[string]interface{}{
			"RequestType":       requestType,
			"ResponseURL":       sinkSrv.URL + "/response?signature=x",
			"StackId":           "arn:aws:cloudformation:us-east-1:123456789012:stack/Easel/0d4b5c10-0000-0000-0000-000000000000",
			"RequestId":         randomString(12, lowerDigits),
			"LogicalResourceId": "SigningKey1",
			"ResourceType":      stacks.SigningKeyResourceType,
			"ResourceProperties": map[string]interface{}{
				"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:signing-key",
				"SecretArn":    secret,
				"Generation":   "1",
			},
		}
		if requestType != "Create" {
			event["PhysicalResourceId"] = secret
		}
		data, _ := json.Marshal(event)
		script := "require(process.argv[1]).handler(JSON.parse(process.argv[2]))" +
			".then(() => process.exit(0), (e) => { console.error(e); process.exit(1); })"
		handler, _ := filepath.Abs("../stacks/signingkey/index.js")
		cmd := exec.Command(node, "-e", script, handler, string(data))
		cmd.Env = []string{"PATH=/usr/bin:/bin", "NODE_PATH=" + sdk, "AWS_REGION=us-east-1",
			"AWS_ACCESS_KEY_ID=" + ak, "AWS_SECRET_ACCESS_KEY=" + sk,
			"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + smSrv.URL, "AWS_EC2_METADATA_DISABLED=true", "HOME=" + t.TempDir()}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("handler: %v\n%s", err, out.String())
		}
		resp := sink.last()
		if resp == nil || resp["RequestId"] != event["RequestId"] || resp["LogicalResourceId"] != "SigningKey1" {
			t.Fatalf("response to CloudFormation %v, want one for this request\nhandler output:\n%s", resp, out.String())
		}
		if raw, _ := json.Marshal(resp); bytes.Contains(raw, []byte("PRIVATE KEY")) || strings.Contains(out.String(), "PRIVATE KEY") {
			t.Fatal("the private key reached CloudFormation's response or the function's log")
		}
		return resp
	}
	publicKey := func(t *testing.T, resp map[string]interface{}) *rsa.PublicKey {
		t.Helper()
		data, _ := resp["Data"].(map[string]interface{})
		block, _ := pem.Decode([]byte(data["PublicKey"].(string)))
		if block == nil || block.Type != "PUBLIC KEY" {
			t.Fatalf("PublicKey %q is not a PEM public key", data["PublicKey"])
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		pub, ok := k.(*rsa.PublicKey)
		if !ok || pub.N.BitLen() != 2048 {
			t.Fatalf("public key %T, want RSA 2048", k)
		}
		return pub
	}

	var first *rsa.PublicKey
	t.Run("create generates the key into the secret", func(t *testing.T) {
		resp := run(t, "Create", secretArn)
		if resp["Status"] != "SUCCESS" || resp["PhysicalResourceId"] != secretArn {
			t.Fatalf("response %v, want SUCCESS with the secret as the physical id", resp)
		}
		first = publicKey(t, resp)
		block, _ := pem.Decode([]byte(sm.value(secretArn)))
		if block == nil || block.Type != "PRIVATE KEY" {
			t.Fatal("the secret does not hold a PEM PKCS#8 private key")
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		priv, ok := k.(*rsa.PrivateKey)
		if !ok || !priv.PublicKey.Equal(first) {
			t.Fatal("the secret's private key does not belong to the public key CloudFormation got")
		}
		if sm.puts() != 1 {
			t.Errorf("%d PutSecretValue calls, want 1", sm.puts())
		}
	})
	t.Run("update and a retried create keep the key", func(t *testing.T) {
		for _, rt := range []string{"Update", "Create"} {
			resp := run(t, rt, secretArn)
			if resp["Status"] != "SUCCESS" || !publicKey(t, resp).Equal(first) {
				t.Errorf("%s: %v, want SUCCESS with the same public key", rt, resp["Status"])
			}
		}
		if sm.puts() != 1 {
			t.Errorf("%d PutSecretValue calls, want still 1", sm.puts())
		}
	})
	t.Run("an unreadable secret fails the resource", func(t *testing.T) {
		resp := run(t, "Create", secretArn+"-missing")
		if resp["Status"] != "FAILED" || !strings.Contains(resp["Reason"].(string), "ResourceNotFoundException") {
			t.Errorf("response %v, want FAILED naming the error", resp)
		}
	})
	t.Run("delete touches nothing", func(t *testing.T) {
		before := sm.calls()
		if resp := run(t, "Delete", secretArn); resp["Status"] != "SUCCESS" {
			t.Errorf("response %v, want SUCCESS", resp)
		}
		if sm.calls() != before {
			t.Error("a Delete called Secrets Manager")
		}
	})
}

// secretsFake is a Secrets Manager wire fake (JSON 1.1 protocol) with GetSecretValue
// and PutSecretValue, checking that requests are signed with the test's key.
type secretsFake struct {
	accessKey string
	mu        sync.Mutex
	secrets   map[string]string
	nCalls    int
	nPuts     int
}

func (f *secretsFake) value(id string) string { f.mu.Lock(); defer f.mu.Unlock(); return f.secrets[id] }
func (f *secretsFake) puts() int              { f.mu.Lock(); defer f.mu.Unlock(); return f.nPuts }
func (f *secretsFake) calls() int             { f.mu.Lock(); defer f.mu.Unlock(); return f.nCalls }

func (f *secretsFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code, msg string) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
	}
	auth := r.Header.Get("Authorization")
	if !strings.Contains(auth, "Credential="+f.accessKey+"/") || !strings.Contains(auth, "/us-east-1/secretsmanager/aws4_request") {
		fail(http.StatusForbidden, "UnrecognizedClientException", "bad signature")
		return
	}
	body, _ := io.ReadAll(r.Body)
	var in struct{ SecretId, SecretString string }
	if err := json.Unmarshal(body, &in); err != nil {
		fail(http.StatusBadRequest, "InvalidRequestException", err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nCalls++
	cur, ok := f.secrets[in.SecretId]
	if !ok {
		fail(http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	out := map[string]interface{}{"ARN": in.SecretId, "Name": "SigningKeySecret1", "VersionId": randomString(16, lowerDigits)}
	switch r.Header.Get("X-Amz-Target") {
	case "secretsmanager.GetSecretValue":
		out["SecretString"] = cur
	case "secretsmanager.PutSecretValue":
		f.secrets[in.SecretId] = in.SecretString
		f.nPuts++
	default:
		fail(http.StatusBadRequest, "InvalidAction", r.Header.Get("X-Amz-Target"))
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(out)
}
