// Package sigv4 checks AWS Signature Version 4 (header form) on requests that reach the
// repository's wire fakes (bedrocktest, sqstest, eventbridgetest), computing the
// canonical request itself, so a fake refuses what AWS would refuse:
// https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ClockSkew is how far a request's X-Amz-Date may be from the server's clock.
const ClockSkew = 5 * time.Minute

// Verifier checks signatures made with one key pair for one region and service.
type Verifier struct {
	AccessKey, Secret string
	Region            string
	// Service is the signing name: "bedrock", "sqs", "events".
	Service string
	// Now is the server's clock (time.Now when nil).
	Now func() time.Time
}

// Refusal is why a request's credentials or signature were refused: the AWS exception
// name and its message, for the fake to answer in its protocol's error shape (always
// HTTP 403 at AWS).
type Refusal struct {
	Exception string
	Message   string
}

func (r *Refusal) Error() string { return r.Exception + ": " + r.Message }

// Verify checks the request's Authorization header against body (the whole request
// body, already read). It returns nil when the signature is valid.
func (v *Verifier) Verify(r *http.Request, body []byte) *Refusal {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return &Refusal{"MissingAuthenticationTokenException", "Missing Authentication Token"}
	}
	const scheme = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, scheme) {
		return &Refusal{"IncompleteSignatureException", "Authorization header requires the AWS4-HMAC-SHA256 scheme."}
	}
	fields := map[string]string{}
	for _, part := range strings.Split(auth[len(scheme):], ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return &Refusal{"IncompleteSignatureException", "Authorization header is malformed."}
		}
		fields[k] = val
	}
	cred, signedList, sig := fields["Credential"], fields["SignedHeaders"], fields["Signature"]
	if cred == "" || signedList == "" || sig == "" {
		return &Refusal{"IncompleteSignatureException", "Authorization header requires Credential, SignedHeaders and Signature."}
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 {
		return &Refusal{"IncompleteSignatureException", "Credential must be <key>/<date>/<region>/<service>/aws4_request."}
	}
	key, date, region, service, term := scope[0], scope[1], scope[2], scope[3], scope[4]
	switch {
	case key != v.AccessKey:
		return &Refusal{"UnrecognizedClientException", "The security token included in the request is invalid."}
	case region != v.Region:
		return &Refusal{"InvalidSignatureException", fmt.Sprintf("Credential should be scoped to a valid region, not '%s'.", region)}
	case service != v.Service:
		return &Refusal{"InvalidSignatureException", fmt.Sprintf("Credential should be scoped to correct service: '%s', not '%s'.", v.Service, service)}
	case term != "aws4_request":
		return &Refusal{"InvalidSignatureException", "Credential should be scoped with a valid terminator: 'aws4_request'."}
	}
	signed := strings.Split(signedList, ";")
	if !slices.Contains(signed, "host") || !slices.Contains(signed, "x-amz-date") {
		return &Refusal{"InvalidSignatureException", "SignedHeaders must include host and x-amz-date."}
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return &Refusal{"IncompleteSignatureException", "X-Amz-Date is missing or malformed."}
	}
	if !strings.HasPrefix(amzDate, date) {
		return &Refusal{"InvalidSignatureException", "Credential date does not match X-Amz-Date."}
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	if d := now().Sub(t); d > ClockSkew || d < -ClockSkew {
		return &Refusal{"InvalidSignatureException", "Signature expired: the request time is too far from the server time."}
	}
	payloadHash := r.Header.Get("X-Amz-Content-Sha256")
	sum := sha256.Sum256(body)
	if payloadHash == "" {
		payloadHash = hex.EncodeToString(sum[:])
	} else if payloadHash != "UNSIGNED-PAYLOAD" && payloadHash != hex.EncodeToString(sum[:]) {
		return &Refusal{"InvalidSignatureException", "The provided x-amz-content-sha256 header does not match what was computed."}
	}
	canonical, ok := canonicalRequest(r, signed, payloadHash)
	if !ok {
		return &Refusal{"InvalidSignatureException", "A signed header is missing from the request."}
	}
	crHash := sha256.Sum256([]byte(canonical))
	stringToSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" +
		strings.Join(scope[1:], "/") + "\n" + hex.EncodeToString(crHash[:])
	k := hmacSHA256([]byte("AWS4"+v.Secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	k = hmacSHA256(k, "aws4_request")
	want := hex.EncodeToString(hmacSHA256(k, stringToSign))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return &Refusal{"InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."}
	}
	return nil
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// canonicalRequest builds SigV4's canonical request. Services other than S3 encode
// the (already escaped) path once more.
func canonicalRequest(r *http.Request, signed []string, payloadHash string) (string, bool) {
	rawPath, rawQuery, _ := strings.Cut(r.RequestURI, "?")
	if rawPath == "" || rawPath[0] != '/' { // absolute-form request target
		rawPath, rawQuery = r.URL.EscapedPath(), r.URL.RawQuery
	}
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	b.WriteString(uriEncode(rawPath, false) + "\n")
	b.WriteString(canonicalQuery(rawQuery) + "\n")
	for _, name := range signed {
		var vals []string
		switch name {
		case "host":
			vals = []string{r.Host}
		case "content-length":
			if v := r.Header.Get("Content-Length"); v != "" {
				vals = []string{v}
			} else {
				vals = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
		default:
			vals = r.Header.Values(name)
		}
		if len(vals) == 0 {
			return "", false
		}
		for i, v := range vals {
			vals[i] = strings.Join(strings.Fields(v), " ")
		}
		b.WriteString(name + ":" + strings.Join(vals, ",") + "\n")
	}
	b.WriteString("\n" + strings.Join(signed, ";") + "\n" + payloadHash)
	return b.String(), true
}

func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		k, v, _ := strings.Cut(p, "=")
		parts[i] = uriEncode(unescape(k), true) + "=" + uriEncode(unescape(v), true)
	}
	slices.Sort(parts)
	return strings.Join(parts, "&")
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// uriEncode percent-encodes every byte but the unreserved ones (and '/' unless
// encodeSlash), with upper-case hex, as SigV4 requires.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !encodeSlash) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
