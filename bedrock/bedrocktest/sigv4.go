package bedrocktest

import (
	"net/http"

	"github.com/easelhq/easel/internal/sigv4"
)

// verifySigV4 checks the request's AWS Signature Version 4 against the server's
// credentials, region and the signing name "bedrock".
func (h *Handler) verifySigV4(r *http.Request, body []byte) *sigv4.Refusal {
	v := sigv4.Verifier{AccessKey: h.accessKey, Secret: h.secret, Region: h.region, Service: "bedrock", Now: h.now}
	return v.Verify(r, body)
}
