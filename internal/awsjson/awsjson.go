// Package awsjson is what the repository's wire fakes of AWS JSON 1.1 services
// (eventbridgetest, secretstest) answer with: the body's headers, the error shape and
// request ids. Fakes only; the service itself talks to AWS through the SDK.
package awsjson

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
)

// ContentType is the AWS JSON 1.1 protocol's media type, of requests and answers.
const ContentType = "application/x-amz-json-1.1"

// Write answers with status and the JSON body b, and a fresh request id.
func Write(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("X-Amzn-Requestid", NewID())
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// WriteError answers with the AWS JSON 1.1 error shape: the exception's name in
// __type, and its message.
func WriteError(w http.ResponseWriter, status int, typ, message string) {
	b, _ := json.Marshal(map[string]string{"__type": typ, "message": message})
	Write(w, status, b)
}

// RandomHex returns n random bytes as lowercase hex.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// NewID returns a random id shaped like a UUID, as AWS request ids are.
func NewID() string {
	s := RandomHex(16)
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}
