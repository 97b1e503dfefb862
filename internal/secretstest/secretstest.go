// Package secretstest is a wire fake of AWS Secrets Manager's GetSecretValue for tests:
// a real HTTP server speaking the AWS JSON 1.1 protocol (X-Amz-Target
// secretsmanager.GetSecretValue) that checks every request's SigV4 signature, refuses
// request shapes Secrets Manager would not take (unknown members, no SecretId), answers
// ResourceNotFoundException for a secret it does not hold, and counts the calls.
//
// It is a fake: it serves GetSecretValue only, keeps one current version per secret and
// knows no rotation, resource policy or KMS key. Tests start it with NewServer, add
// secrets with Put, and reach it through the SDK's standard settings
// (AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_REGION and the key pair from Credentials).
package secretstest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/easelhq/easel/internal/awsjson"
	"github.com/easelhq/easel/internal/sigv4"
)

// Region is the region requests must be signed for.
const Region = "us-east-1"

// Account is the fake's AWS account id, in secret ARNs.
const Account = "000000000000"

// maxBody bounds a request body.
const maxBody = 64 << 10

type secret struct {
	arn, name, version, value string
	created                   time.Time
}

// Server is the fake on a loopback port. It is safe for concurrent use.
type Server struct {
	verifier sigv4.Verifier
	srv      *httptest.Server

	mu      sync.Mutex
	secrets map[string]*secret // by name
	calls   int
}

// Option configures a Server.
type Option func(*Server)

// WithCredentials sets the key pair requests must be signed with (by default one
// generated for the server), so the fake shares one with other emulators.
func WithCredentials(accessKey, secret string) Option {
	return func(s *Server) { s.verifier.AccessKey, s.verifier.Secret = accessKey, secret }
}

// NewServer starts the fake; it is closed when the test ends.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{
		verifier: sigv4.Verifier{AccessKey: "FAKE" + strings.ToUpper(randomHex(8)), Secret: randomHex(20), Region: Region, Service: "secretsmanager"},
		secrets:  map[string]*secret{},
	}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the endpoint to give the SDK (AWS_ENDPOINT_URL_SECRETS_MANAGER).
func (s *Server) URL() string { return s.srv.URL }

// Credentials returns the access key pair requests must be signed with.
func (s *Server) Credentials() (accessKey, secret string) {
	return s.verifier.AccessKey, s.verifier.Secret
}

// Put stores value as the current version of the secret name (a new version when it
// exists) and returns the secret's ARN.
func (s *Server) Put(name, value string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[name]
	if sec == nil {
		// Secrets Manager ends an ARN with a hyphen and six random characters.
		sec = &secret{name: name, arn: fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", Region, Account, name, randomHex(3)), created: time.Now()}
		s.secrets[name] = sec
	}
	sec.value, sec.version = value, newID()
	return sec.arn
}

// Calls returns how many signed GetSecretValue calls arrived.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// lookup finds a secret by name or by full ARN.
func (s *Server) lookup(id string) *secret {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec := s.secrets[id]; sec != nil {
		return sec
	}
	for _, sec := range s.secrets {
		if sec.arn == id {
			return sec
		}
	}
	return nil
}

type getIn struct {
	SecretID     *string `json:"SecretId"`
	VersionID    *string `json:"VersionId"`
	VersionStage *string `json:"VersionStage"`
}

// ServeHTTP answers POST / with X-Amz-Target secretsmanager.GetSecretValue.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "secretsmanager.")
	if r.Method != http.MethodPost || !ok {
		writeError(w, 400, "UnknownOperationException", fmt.Sprintf("This fake serves only POST with X-Amz-Target secretsmanager.GetSecretValue (got %s %q).", r.Method, target))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, 413, "InvalidRequestException", "The request body is too large.")
		return
	}
	if bad := s.verifier.Verify(r, body); bad != nil {
		writeError(w, 403, bad.Exception, bad.Message) // AWS answers 403 to a bad signature
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		writeError(w, 400, "SerializationException", fmt.Sprintf("Content-Type must be application/x-amz-json-1.1, not %q.", ct))
		return
	}
	if op != "GetSecretValue" {
		writeError(w, 400, "UnknownOperationException", fmt.Sprintf("The Secrets Manager fake serves only GetSecretValue, not %s.", op))
		return
	}
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	var in getIn
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeError(w, 400, "SerializationException", fmt.Sprintf("The request is not a GetSecretValue input: %v.", err))
		return
	}
	if in.SecretID == nil || *in.SecretID == "" {
		writeError(w, 400, "ValidationException", "1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null")
		return
	}
	sec := s.lookup(*in.SecretID)
	if sec == nil {
		writeError(w, 400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	s.mu.Lock()
	version, value := sec.version, sec.value
	s.mu.Unlock()
	if (in.VersionID != nil && *in.VersionID != version) || (in.VersionStage != nil && *in.VersionStage != "AWSCURRENT") {
		writeError(w, 400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for the version.")
		return
	}
	b, _ := json.Marshal(map[string]any{
		"ARN": sec.arn, "Name": sec.name, "VersionId": version, "SecretString": value,
		"VersionStages": []string{"AWSCURRENT"}, "CreatedDate": float64(sec.created.UnixMilli()) / 1000,
	})
	awsjson.Write(w, http.StatusOK, b)
}

// The AWS JSON 1.1 answers, shared with the other JSON fakes.
var (
	writeError = awsjson.WriteError
	randomHex  = awsjson.RandomHex
	newID      = awsjson.NewID
)
