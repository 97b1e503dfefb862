package cloudfronttest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/easelhq/easel/internal/sigv4"
)

// APIVersion is the CloudFront API version in request paths.
const APIVersion = "2020-05-31"

// MaxPathsInProgress is CloudFront's limit on file paths in invalidations in progress
// per distribution; one invalidation over it is BatchTooLarge, more in progress is
// TooManyInvalidationsInProgress.
const MaxPathsInProgress = 3000

// Invalidation is one invalidation the fake created.
type Invalidation struct {
	ID              string
	Distribution    string
	CallerReference string
	Paths           []string
	Created         time.Time
}

// API is a wire fake of CloudFront's CreateInvalidation: the REST-XML call
// POST /2020-05-31/distribution/{Id}/invalidation, SigV4-checked (signing name
// cloudfront, region us-east-1 as for every CloudFront call). It refuses a Quantity
// that does not match the paths (InconsistentQuantities), a repeated caller reference
// with other paths (InvalidationBatchAlreadyExists), more than MaxPathsInProgress
// paths (BatchTooLarge), and an unknown distribution (NoSuchDistribution); the same
// batch again answers the invalidation made for it. An
// invalidation stays in progress for InProgressFor (default 0: done at once), and
// paths in progress count against MaxPathsInProgress (TooManyInvalidationsInProgress).
// Safe for concurrent use.
type API struct {
	verifier sigv4.Verifier
	srv      *httptest.Server

	mu            sync.Mutex
	dists         map[string]bool
	invalidations []Invalidation
	calls         int
	// InProgressFor is how long an invalidation counts as in progress.
	inProgressFor time.Duration
}

// NewAPI starts the fake on a loopback port, accepting requests signed with the key
// pair and knowing the distributions ids; it is closed when the test ends.
func NewAPI(t testing.TB, accessKey, secret string, distributions ...string) *API {
	t.Helper()
	a := &API{
		verifier: sigv4.Verifier{AccessKey: accessKey, Secret: secret, Region: "us-east-1", Service: "cloudfront"},
		dists:    map[string]bool{},
	}
	for _, d := range distributions {
		a.dists[d] = true
	}
	a.srv = httptest.NewServer(a)
	t.Cleanup(a.srv.Close)
	return a
}

// URL is the endpoint to give the SDK (AWS_ENDPOINT_URL_CLOUDFRONT).
func (a *API) URL() string { return a.srv.URL }

// SetInProgressFor sets how long new invalidations count as in progress.
func (a *API) SetInProgressFor(d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inProgressFor = d
}

// Invalidations returns the invalidations created so far, oldest first.
func (a *API) Invalidations() []Invalidation {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Invalidation(nil), a.invalidations...)
}

// Calls returns how many signed CreateInvalidation calls arrived.
func (a *API) Calls() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls
}

type batchXML struct {
	XMLName xml.Name `xml:"InvalidationBatch"`
	Paths   struct {
		Quantity *int     `xml:"Quantity"`
		Items    []string `xml:"Items>Path"`
	} `xml:"Paths"`
	CallerReference string `xml:"CallerReference"`
}

// ServeHTTP answers CreateInvalidation.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		writeXMLError(w, 413, "BatchTooLarge", "The request body is too large.")
		return
	}
	if bad := a.verifier.Verify(r, body); bad != nil {
		writeXMLError(w, 403, bad.Exception, bad.Message)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/"+APIVersion+"/distribution/")
	dist, tail, _ := strings.Cut(rest, "/")
	if !ok || tail != "invalidation" || r.Method != http.MethodPost {
		writeXMLError(w, 400, "InvalidArgument", fmt.Sprintf("The CloudFront fake serves only POST /%s/distribution/{Id}/invalidation, not %s %s.", APIVersion, r.Method, r.URL.Path))
		return
	}
	a.mu.Lock()
	a.calls++
	a.mu.Unlock()
	var in batchXML
	if len(body) == 0 {
		writeXMLError(w, 400, "MissingBody", "This operation requires a body.")
		return
	}
	if err := xml.Unmarshal(body, &in); err != nil {
		writeXMLError(w, 400, "MalformedXML", fmt.Sprintf("The XML is not an InvalidationBatch: %v.", err))
		return
	}
	if in.CallerReference == "" || in.Paths.Quantity == nil {
		writeXMLError(w, 400, "InvalidArgument", "CallerReference and Paths.Quantity are required.")
		return
	}
	if *in.Paths.Quantity != len(in.Paths.Items) {
		writeXMLError(w, 400, "InconsistentQuantities", "The value of Quantity and the size of Items don't match.")
		return
	}
	for _, p := range in.Paths.Items {
		if !strings.HasPrefix(p, "/") {
			writeXMLError(w, 400, "InvalidArgument", fmt.Sprintf("Path %q must start with /.", p))
			return
		}
	}
	if len(in.Paths.Items) > MaxPathsInProgress {
		writeXMLError(w, 413, "BatchTooLarge", fmt.Sprintf("Invalidation batch specified is too large: %d paths, at most %d.", len(in.Paths.Items), MaxPathsInProgress))
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.dists[dist] {
		writeXMLError(w, 404, "NoSuchDistribution", "The specified distribution does not exist.")
		return
	}
	now := time.Now()
	inProgress := 0
	for _, inv := range a.invalidations {
		if inv.Distribution == dist && now.Sub(inv.Created) < a.inProgressFor {
			inProgress += len(inv.Paths)
		}
		if inv.Distribution == dist && inv.CallerReference == in.CallerReference {
			// The same batch again answers the invalidation made for it; other paths
			// under the same reference are refused.
			if !slices.Equal(inv.Paths, in.Paths.Items) {
				writeXMLError(w, 409, "InvalidationBatchAlreadyExists", "An invalidation with this caller reference and other paths exists.")
				return
			}
			a.answer(w, inv, now)
			return
		}
	}
	if inProgress+len(in.Paths.Items) > MaxPathsInProgress {
		writeXMLError(w, 400, "TooManyInvalidationsInProgress", "You have exceeded the maximum number of allowable InProgress invalidation batch requests, or invalidation objects.")
		return
	}
	inv := Invalidation{ID: "I" + strings.ToUpper(randomHex(7)), Distribution: dist, CallerReference: in.CallerReference, Paths: in.Paths.Items, Created: now}
	a.invalidations = append(a.invalidations, inv)
	a.answer(w, inv, now)
}

// answer writes the invalidation as CreateInvalidation answers it (201).
func (a *API) answer(w http.ResponseWriter, inv Invalidation, now time.Time) {
	status := "Completed"
	if now.Sub(inv.Created) < a.inProgressFor {
		status = "InProgress"
	}
	var items strings.Builder
	for _, p := range inv.Paths {
		items.WriteString("<Path>")
		_ = xml.EscapeText(&items, []byte(p))
		items.WriteString("</Path>")
	}
	loc := fmt.Sprintf("%s/%s/distribution/%s/invalidation/%s", a.srv.URL, APIVersion, inv.Distribution, inv.ID)
	w.Header().Set("Location", loc)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", randomHex(16))
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<Invalidation xmlns="http://cloudfront.amazonaws.com/doc/%s/"><Id>%s</Id><Status>%s</Status><CreateTime>%s</CreateTime><InvalidationBatch><Paths><Quantity>%d</Quantity><Items>%s</Items></Paths><CallerReference>%s</CallerReference></InvalidationBatch></Invalidation>`,
		APIVersion, inv.ID, status, inv.Created.UTC().Format(time.RFC3339), len(inv.Paths), items.String(), inv.CallerReference)
}

func writeXMLError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", randomHex(16))
	w.WriteHeader(status)
	var msg strings.Builder
	_ = xml.EscapeText(&msg, []byte(message))
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	fmt.Fprintf(w, `<?xml version="1.0"?>
<ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/%s/"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
		APIVersion, typ, code, msg.String(), randomHex(16))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
