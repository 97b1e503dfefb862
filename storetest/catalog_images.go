package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/easelhq/easel"
)

func testCreateImage(t *testing.T, c easel.Catalog) {
	ctx := t.Context()
	img := newImage("user-a", baseTime())
	createImage(t, c, img)
	got, err := c.LookupImage(ctx, img.ID)
	checkCode(t, "LookupImage", err, "")
	checkImage(t, "LookupImage", got, img)

	// Same id, any owner: conflict, and the first record stays.
	dup := newImage("user-b", baseTime().Add(time.Minute))
	dup.ID = img.ID
	checkCode(t, "CreateImage(same id)", c.CreateImage(ctx, dup), easel.EConflict)
	got, err = c.LookupImage(ctx, img.ID)
	checkCode(t, "LookupImage", err, "")
	checkImage(t, "LookupImage after conflict", got, img)

	// Optional fields left empty round-trip as empty.
	bare := newImage("user-a", baseTime())
	bare.NegativePrompt, bare.CFGScale, bare.Style, bare.Quality, bare.AspectRatio = "", nil, "", "", ""
	bare.Seed = 0
	createImage(t, c, bare)
	got, err = c.LookupImage(ctx, bare.ID)
	checkCode(t, "LookupImage", err, "")
	checkImage(t, "LookupImage(bare)", got, bare)

	// An edit's result keeps its lineage: the operation, its inputs and its fields.
	edited := newImage("user-a", baseTime())
	edited.Operation, edited.SourceImageID, edited.StyleImageID, edited.MaskImageID = "style-transfer", easel.NewID(), easel.NewID(), easel.NewID()
	edited.OperationFields = []byte(`{"seed":18446744073709551615,"style_strength":0.5,"output_format":"png"}`)
	createImage(t, c, edited)
	got, err = c.LookupImage(ctx, edited.ID)
	checkCode(t, "LookupImage", err, "")
	checkImage(t, "LookupImage(edited)", got, edited)
	checkCode(t, "MarkReady", c.MarkReady(ctx, edited.UserID, edited.ID), "")
	edited.Status = easel.StatusReady
	got, err = c.GetImage(ctx, edited.UserID, edited.ID)
	checkCode(t, "GetImage", err, "")
	checkImage(t, "GetImage(edited)", got, edited)
	page, _, err := c.ListImages(ctx, edited.UserID, easel.ListOptions{Limit: 100})
	checkCode(t, "ListImages", err, "")
	for _, img := range page {
		if img.ID == edited.ID {
			checkImage(t, "ListImages(edited)", img, edited)
		}
	}
	// An upload, the input of edits, has an operation and nothing else.
	up := newImage("user-a", baseTime())
	up.Model, up.Prompt, up.NegativePrompt, up.CFGScale, up.Style, up.Quality, up.AspectRatio, up.Seed = "", "", "", nil, "", "", "", 0
	up.Operation = easel.OpUpload
	createImage(t, c, up)
	got, err = c.LookupImage(ctx, up.ID)
	checkCode(t, "LookupImage", err, "")
	checkImage(t, "LookupImage(upload)", got, up)
}

func testPendingInvisible(t *testing.T, c easel.Catalog) {
	ctx := t.Context()
	img := newImage("user-a", baseTime())
	createImage(t, c, img)
	_, err := c.GetImage(ctx, img.UserID, img.ID)
	checkCode(t, "GetImage(pending)", err, easel.ENotFound)
	page, next, err := c.ListImages(ctx, img.UserID, easel.ListOptions{Limit: 10})
	checkCode(t, "ListImages", err, "")
	if len(page) != 0 || next != nil {
		t.Errorf("ListImages with only a pending record = %v, %v; want no images, nil cursor", ids(page), next)
	}
}

func testMarkReady(t *testing.T, c easel.Catalog) {
	ctx := t.Context()
	img := newImage("user-a", baseTime())
	createImage(t, c, img)
	checkCode(t, "MarkReady(other user)", c.MarkReady(ctx, "user-b", img.ID), easel.ENotFound)
	checkCode(t, "MarkReady(unknown id)", c.MarkReady(ctx, img.UserID, easel.NewID()), easel.ENotFound)
	if _, err := c.GetImage(ctx, img.UserID, img.ID); easel.ErrorCode(err) != easel.ENotFound {
		t.Fatalf("GetImage after MarkReady by another user = %v, want not found (still pending)", err)
	}
	checkCode(t, "MarkReady", c.MarkReady(ctx, img.UserID, img.ID), "")
	img.Status = easel.StatusReady
	got, err := c.GetImage(ctx, img.UserID, img.ID)
	checkCode(t, "GetImage", err, "")
	checkImage(t, "GetImage", got, img)

	// A record deleted while its object was uploading: MarkReady must say so.
	gone := newImage("user-a", baseTime())
	createImage(t, c, gone)
	checkCode(t, "DeletePending", c.DeletePending(ctx, gone.ID), "")
	checkCode(t, "MarkReady(deleted)", c.MarkReady(ctx, gone.UserID, gone.ID), easel.ENotFound)
	if _, err := c.LookupImage(ctx, gone.ID); easel.ErrorCode(err) != easel.ENotFound {
		t.Errorf("LookupImage after MarkReady of a deleted record = %v, want not found (no record recreated)", err)
	}
}

func testSetThumbKey(t *testing.T, c easel.Catalog) {
	ctx := t.Context()
	img := newImage("user-a", baseTime())
	readyImage(t, c, img)
	thumb := easel.ThumbKey(img.ID, "image/jpeg")
	checkCode(t, "SetThumbKey(other user)", c.SetThumbKey(ctx, "user-b", img.ID, thumb), easel.ENotFound)
	checkCode(t, "SetThumbKey(unknown id)", c.SetThumbKey(ctx, img.UserID, easel.NewID(), thumb), easel.ENotFound)
	got, err := c.GetImage(ctx, img.UserID, img.ID)
	checkCode(t, "GetImage", err, "")
	checkImage(t, "GetImage after SetThumbKey by another user", got, img)

	checkCode(t, "SetThumbKey", c.SetThumbKey(ctx, img.UserID, img.ID, thumb), "")
	img.ThumbKey = thumb
	got, err = c.GetImage(ctx, img.UserID, img.ID)
	checkCode(t, "GetImage", err, "")
	checkImage(t, "GetImage after SetThumbKey", got, img)
	page, _, err := c.ListImages(ctx, img.UserID, easel.ListOptions{Limit: 10})
	checkCode(t, "ListImages", err, "")
	if len(page) != 1 {
		t.Fatalf("ListImages = %v, want [%s]", ids(page), img.ID)
	}
	checkImage(t, "ListImages[0]", page[0], img)

	_, err = c.DeleteImage(ctx, img.UserID, img.ID)
	checkCode(t, "DeleteImage", err, "")
	checkCode(t, "SetThumbKey(deleted)", c.SetThumbKey(ctx, img.UserID, img.ID, thumb), easel.ENotFound)
	if _, err := c.LookupImage(ctx, img.ID); easel.ErrorCode(err) != easel.ENotFound {
		t.Errorf("LookupImage after SetThumbKey of a deleted record = %v, want not found (no record recreated)", err)
	}
}

// testImageOtherUser checks invariant 3 (BOLA): another user's id is not found.
func testImageOtherUser(t *testing.T, c easel.Catalog) {
	ctx := t.Context()
	img := newImage("user-a", baseTime())
	readyImage(t, c, img)
	_, err := c.GetImage(ctx, "user-b", img.ID)
	checkCode(t, "GetImage(other user)", err, easel.ENotFound)
	_, err = c.GetImage(ctx, img.UserID, easel.NewID())
	checkCode(t, "GetImage(unknown id)", err, easel.ENotFound)
	got, err := c.GetImage(ctx, img.UserID, img.ID)
	checkCode(t, "GetImage(owner)", err, "")
	checkImage(t, "GetImage(owner)", got, img)
}

// gallery creates n ready images of user with CreatedAt values that collide in groups
// of three (so ties are broken by id) and returns them in the expected list order.
func gallery(t *testing.T, c easel.Catalog, user string, n int) []*easel.Image {
	t.Helper()
	base := baseTime()
	var imgs []*easel.Image
	for i := range n {
		img := newImage(user, base.Add(time.Duration(i/3)*time.Second))
		readyImage(t, c, img)
		imgs = append(imgs, img)
	}
	sortNewestFirst(imgs)
	return imgs
}

func sortNewestFirst(imgs []*easel.Image) {
	slices.SortFunc(imgs, func(a, b *easel.Image) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
}

func testListOrder(t *testing.T, c easel.Catalog) {
	ctx := t.Context()
	want := gallery(t, c, "user-a", 9)
	// A pending record among them is not listed.
	createImage(t, c, newImage("user-a", baseTime().Add(2*time.Second)))
	got, next, err := c.ListImages(ctx, "user-a", easel.ListOptions{Limit: easel.MaxPageSize})
	checkCode(t, "ListImages", err, "")
	if !slices.Equal(ids(got), ids(want)) {
		t.Fatalf("ListImages =\n\t%v\nwant (CreatedAt, then ID descending)\n\t%v", ids(got), ids(want))
	}
	if next != nil {
		t.Errorf("ListImages cursor = %+v, want nil at the end", next)
	}
	for i := range got {
		checkImage(t, fmt.Sprintf("ListImages[%d]", i), got[i], want[i])
	}
}

func testListPages(t *testing.T, c easel.Catalog) {
	want := gallery(t, c, "user-a", 23)
	for _, limit := range []int{1, 4, 5, 6, 23, 24} {
		t.Run(fmt.Sprint("limit=", limit), func(t *testing.T) {
			got := listAll(t, c, "user-a", limit)
			if !slices.Equal(ids(got), ids(want)) {
				t.Errorf("pages with limit %d =\n\t%v\nwant\n\t%v", limit, ids(got), ids(want))
			}
		})
	}
}

// listAll follows cursors to the end, checking each page's size.
func listAll(t *testing.T, c easel.Catalog, user string, limit int) []*easel.Image {
	t.Helper()
	var all []*easel.Image
	var after *easel.PageCursor
	for calls := 0; ; calls++ {
		if calls > 1000 {
			t.Fatalf("ListImages(limit %d) still returns cursors after %d pages", limit, calls)
		}
		page, next, err := c.ListImages(t.Context(), user, easel.ListOptions{Limit: limit, After: after})
		checkCode(t, "ListImages", err, "")
		if len(page) > limit {
			t.Fatalf("ListImages(limit %d) returned %d images", limit, len(page))
		}
		if len(page) < limit && next != nil {
			t.Fatalf("ListImages(limit %d) returned %d images and cursor %+v, want nil cursor with a short page", limit, len(page), next)
		}
		all = append(all, page...)
		if next == nil {
			return all
		}
		last := page[len(page)-1]
		if next.ID != last.ID || !next.CreatedAt.Equal(last.CreatedAt) {
			t.Fatalf("ListImages cursor = %+v, want the last image of the page (%s, %v)", next, last.ID, last.CreatedAt)
		}
		after = next
	}
}

func testListLimit(t *testing.T, c easel.Catalog) {
	ctx := t.Context()
	want := gallery(t, c, "user-a", 7)
	got, next, err := c.ListImages(ctx, "user-a", easel.ListOptions{Limit: 3})
	checkCode(t, "ListImages", err, "")
	if !slices.Equal(ids(got), ids(want[:3])) {
		t.Fatalf("ListImages(limit 3) = %v, want %v", ids(got), ids(want[:3]))
	}
	if next == nil {
		t.Fatalf("ListImages(limit 3) of 7 images: nil cursor, want one")
	}
	// A cursor built by hand (as the HTTP layer unseals it) works the same.
	cur := &easel.PageCursor{CreatedAt: want[2].CreatedAt, ID: want[2].ID}
	got, _, err = c.ListImages(ctx, "user-a", easel.ListOptions{Limit: 3, After: cur})
	checkCode(t, "ListImages(after)", err, "")
	if !slices.Equal(ids(got), ids(want[3:6])) {
		t.Errorf("ListImages(limit 3, after %v) = %v, want %v", cur, ids(got), ids(want[3:6]))
	}
	got, next, err = c.ListImages(ctx, "user-a", easel.ListOptions{Limit: easel.MaxPageSize})
	checkCode(t, "ListImages", err, "")
	if len(got) != 7 || next != nil {
		t.Errorf("ListImages(limit %d) = %d images, cursor %v; want 7, nil", easel.MaxPageSize, len(got), next)
	}
}

func testListOtherUser(t *testing.T, c easel.Catalog) {
	ctx := t.Context()
	mine := gallery(t, c, "user-a", 5)
	theirs := gallery(t, c, "user-b", 5)
	got := listAll(t, c, "user-a", 2)
	if !slices.Equal(ids(got), ids(mine)) {
		t.Errorf("user-a's pages = %v, want %v", ids(got), ids(mine))
	}
	got, _, err := c.ListImages(ctx, "user-c", easel.ListOptions{Limit: 10})
	checkCode(t, "ListImages(user-c)", err, "")
	if len(got) != 0 {
		t.Errorf("ListImages(user with no images) = %v, want none", ids(got))
	}
	// A cursor from another user's gallery still lists only this user's images.
	cur := &easel.PageCursor{CreatedAt: mine[1].CreatedAt, ID: mine[1].ID}
	var want []*easel.Image
	for _, img := range theirs {
		if img.CreatedAt.Before(cur.CreatedAt) || img.CreatedAt.Equal(cur.CreatedAt) && img.ID < cur.ID {
			want = append(want, img)
		}
	}
	got, _, err = c.ListImages(ctx, "user-b", easel.ListOptions{Limit: 10, After: cur})
	checkCode(t, "ListImages(user-b)", err, "")
	if !slices.Equal(ids(got), ids(want)) {
		t.Errorf("ListImages(user-b, after user-a's %v) = %v, want %v", cur, ids(got), ids(want))
	}
}

func testDeleteImage(t *testing.T, c easel.Catalog) {
	ctx := t.Context()
	img := newImage("user-a", baseTime())
	readyImage(t, c, img)
	_, err := c.DeleteImage(ctx, "user-b", img.ID)
	checkCode(t, "DeleteImage(other user)", err, easel.ENotFound)
	got, err := c.GetImage(ctx, img.UserID, img.ID)
	checkCode(t, "GetImage after DeleteImage by another user", err, "")
	checkImage(t, "GetImage", got, img)

	got, err = c.DeleteImage(ctx, img.UserID, img.ID)
	checkCode(t, "DeleteImage", err, "")
	checkImage(t, "DeleteImage", got, img)
	_, err = c.GetImage(ctx, img.UserID, img.ID)
	checkCode(t, "GetImage(deleted)", err, easel.ENotFound)
	_, err = c.LookupImage(ctx, img.ID)
	checkCode(t, "LookupImage(deleted)", err, easel.ENotFound)
	_, err = c.DeleteImage(ctx, img.UserID, img.ID)
	checkCode(t, "DeleteImage(again)", err, easel.ENotFound)
	page, _, err := c.ListImages(ctx, img.UserID, easel.ListOptions{Limit: 10})
	checkCode(t, "ListImages", err, "")
	if len(page) != 0 {
		t.Errorf("ListImages after DeleteImage = %v, want none", ids(page))
	}
}

func testLookupImage(t *testing.T, c easel.Catalog) {
	ctx := t.Context()
	pending := newImage("user-a", baseTime())
	createImage(t, c, pending)
	ready := newImage("user-b", baseTime())
	readyImage(t, c, ready)
	for _, want := range []*easel.Image{pending, ready} {
		got, err := c.LookupImage(ctx, want.ID)
		checkCode(t, "LookupImage", err, "")
		checkImage(t, "LookupImage", got, want)
	}
	_, err := c.LookupImage(ctx, easel.NewID())
	checkCode(t, "LookupImage(unknown)", err, easel.ENotFound)
}

func testListPending(t *testing.T, c easel.Catalog) {
	ctx := t.Context()
	base := baseTime()
	var old []*easel.Image
	for i := range 5 {
		img := newImage(fmt.Sprint("user-", i%2), base.Add(time.Duration(i)*time.Minute))
		createImage(t, c, img)
		old = append(old, img)
	}
	readyImage(t, c, newImage("user-a", base)) // ready: never listed
	recent := newImage("user-a", base.Add(10*time.Minute))
	createImage(t, c, recent)

	cutoff := base.Add(10 * time.Minute) // strictly before: recent is excluded
	got, err := c.ListPending(ctx, cutoff, 100)
	checkCode(t, "ListPending", err, "")
	slices.SortFunc(got, func(a, b *easel.Image) int { return strings.Compare(a.ID, b.ID) })
	want := slices.Clone(old)
	slices.SortFunc(want, func(a, b *easel.Image) int { return strings.Compare(a.ID, b.ID) })
	if !slices.Equal(ids(got), ids(want)) {
		t.Fatalf("ListPending(%v, 100) = %v, want %v", cutoff, ids(got), ids(want))
	}
	for i := range got {
		checkImage(t, "ListPending", got[i], want[i])
	}

	got, err = c.ListPending(ctx, cutoff, 2)
	checkCode(t, "ListPending", err, "")
	if len(got) != 2 {
		t.Fatalf("ListPending(limit 2) = %v, want 2 records", ids(got))
	}
	for _, img := range got {
		if img.Status != easel.StatusPending || !img.CreatedAt.Before(cutoff) {
			t.Errorf("ListPending(limit 2) returned %s (%s, %v), want pending before %v", img.ID, img.Status, img.CreatedAt, cutoff)
		}
	}
	got, err = c.ListPending(ctx, base, 100)
	checkCode(t, "ListPending", err, "")
	if len(got) != 0 {
		t.Errorf("ListPending(before the oldest) = %v, want none", ids(got))
	}
}

func testDeletePending(t *testing.T, c easel.Catalog) {
	ctx := t.Context()
	pending := newImage("user-a", baseTime())
	createImage(t, c, pending)
	ready := newImage("user-a", baseTime())
	readyImage(t, c, ready)

	checkCode(t, "DeletePending(ready)", c.DeletePending(ctx, ready.ID), easel.ENotFound)
	got, err := c.GetImage(ctx, ready.UserID, ready.ID)
	checkCode(t, "GetImage after DeletePending(ready)", err, "")
	checkImage(t, "GetImage", got, ready)

	checkCode(t, "DeletePending", c.DeletePending(ctx, pending.ID), "")
	_, err = c.LookupImage(ctx, pending.ID)
	checkCode(t, "LookupImage(deleted pending)", err, easel.ENotFound)
	checkCode(t, "DeletePending(again)", c.DeletePending(ctx, pending.ID), easel.ENotFound)
	checkCode(t, "DeletePending(unknown)", c.DeletePending(ctx, easel.NewID()), easel.ENotFound)
}
