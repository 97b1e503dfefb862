package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/easelhq/easel"
)

// RunCatalogTests runs the Catalog conformance suite. newCatalog returns a fresh, empty
// catalog (its cleanup registered with t.Cleanup); it is called once per subtest.
func RunCatalogTests(t *testing.T, newCatalog func(t *testing.T) easel.Catalog) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, c easel.Catalog)
	}{
		{"Images/Create", testCreateImage},
		{"Images/PendingInvisible", testPendingInvisible},
		{"Images/MarkReady", testMarkReady},
		{"Images/SetThumbKey", testSetThumbKey},
		{"Images/OtherUser", testImageOtherUser},
		{"Images/ListOrder", testListOrder},
		{"Images/ListPages", testListPages},
		{"Images/ListLimit", testListLimit},
		{"Images/ListOtherUser", testListOtherUser},
		{"Images/Delete", testDeleteImage},
		{"Images/Lookup", testLookupImage},
		{"Images/ListPending", testListPending},
		{"Images/DeletePending", testDeletePending},
		{"Keys/CreateAndGet", testCreateKey},
		{"Keys/Duplicate", testDuplicateKey},
		{"Keys/List", testListKeys},
		{"Keys/Revoke", testRevokeKey},
		{"Idempotency/Begin", testBeginIdempotent},
		{"Idempotency/Finish", testFinishIdempotent},
		{"Idempotency/Abort", testAbortIdempotent},
		{"Idempotency/Expired", testExpiredIdempotent},
		{"Idempotency/PerUser", testIdempotentPerUser},
		{"Idempotency/Get", testGetIdempotent},
		{"Idempotency/ClaimIdentity", testIdempotentClaimIdentity},
		{"Idempotency/TakeOverRace", testTakeOverRace},
		{"Quota/Accumulate", testUsageAccumulates},
		{"Quota/Limit", testUsageLimit},
		{"Quota/Refund", testUsageRefund},
		{"Quota/Separate", testUsageSeparate},
		{"Quota/Concurrent", testUsageConcurrent},
		{"Setting/FirstWriterWins", testSetting},
		{"Setting/Concurrent", testSettingConcurrent},
		{"Ping", testCatalogPing},
		{"Sessions/CreateAndGet", testCreateSession},
		{"Sessions/Expiry", testSessionExpiry},
		{"Sessions/Delete", testDeleteSession},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newCatalog(t))
		})
	}
	RunJobCatalogTests(t, func(t *testing.T) easel.JobCatalog { return newCatalog(t) })
}

// baseTime is a recent instant at the precision every backend keeps.
func baseTime() time.Time {
	return time.Now().UTC().Truncate(time.Millisecond).Add(-time.Hour)
}

// newImage returns a pending record of user with every field set.
func newImage(user string, created time.Time) *easel.Image {
	id := easel.NewID()
	cfg := 7.5
	return &easel.Image{
		ID:             id,
		UserID:         user,
		Status:         easel.StatusPending,
		Model:          "amazon.titan-image-generator-v2:0",
		Prompt:         "a lighthouse at dusk, oil on canvas",
		NegativePrompt: "blurry",
		Width:          1024,
		Height:         768,
		Seed:           1<<63 + 12345, // past int64: backends must keep all 64 bits
		CFGScale:       &cfg,
		Style:          "photographic",
		Quality:        "premium",
		AspectRatio:    "4:3",
		ContentType:    "image/png",
		Bytes:          123456,
		SHA256:         "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Key:            easel.ImageKey(id, "image/png"),
		CreatedAt:      created,
	}
}

// canonImage returns a copy of img with times in UTC, so that reflect.DeepEqual
// compares instants.
func canonImage(img *easel.Image) easel.Image {
	c := *img
	c.CreatedAt = c.CreatedAt.UTC()
	return c
}

func checkImage(t *testing.T, call string, got, want *easel.Image) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s = nil, want %+v", call, want)
	}
	if g, w := canonImage(got), canonImage(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s =\n\t%+v\nwant\n\t%+v", call, g, w)
	}
}

// checkCode fails the test unless err carries the code want ("" for no error).
func checkCode(t *testing.T, call string, err error, want string) {
	t.Helper()
	if got := easel.ErrorCode(err); got != want {
		if want == "" {
			t.Fatalf("%s: unexpected error %v", call, err)
		}
		t.Fatalf("%s = %v (code %q), want code %q", call, err, got, want)
	}
}

func createImage(t *testing.T, c easel.Catalog, img *easel.Image) {
	t.Helper()
	checkCode(t, "CreateImage", c.CreateImage(t.Context(), img), "")
}

// readyImage creates img and marks it ready.
func readyImage(t *testing.T, c easel.Catalog, img *easel.Image) {
	t.Helper()
	createImage(t, c, img)
	checkCode(t, "MarkReady", c.MarkReady(t.Context(), img.UserID, img.ID), "")
	img.Status = easel.StatusReady
}

func ids(imgs []*easel.Image) []string {
	s := make([]string, len(imgs))
	for i, img := range imgs {
		s[i] = img.ID
	}
	return s
}
