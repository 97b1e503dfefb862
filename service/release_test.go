package service_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"image/jpeg"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/internal/localtest"
	"github.com/easelhq/easel/service"
)

// The model's buffers are handed back once the images are stored, and nothing reads
// them afterwards.

// releasingModel hands over images whose Release wipes their bytes, as a pooled
// buffer reused for the next answer would: if anything read them after Release, the
// stored object or the thumbnail would be wrong.
type releasingModel struct {
	*fixedModel
	released atomic.Int64
}

func (m *releasingModel) Generate(ctx context.Context, r *easel.GenerateRequest) (*easel.Generation, error) {
	g, err := m.fixedModel.Generate(ctx, r)
	if err != nil {
		return nil, err
	}
	for i := range g.Images {
		// Room after the image, as a decoded answer has: the PNG text chunk is spliced
		// in place, so the stored bytes are these bytes.
		data := append(make([]byte, 0, len(g.Images[i].Data)+4096), g.Images[i].Data...)
		g.Images[i].Data = data
		g.Images[i].Release = func() {
			m.released.Add(1)
			clear(data[:cap(data)])
		}
	}
	return g, nil
}

func TestGeneratedImagesReleasedAfterStore(t *testing.T) {
	st, fs, _ := localtest.Stores(t, "http://127.0.0.1/images/")
	m := &releasingModel{fixedModel: newFixedModel(t, 64, 64)}
	svc, err := service.New(service.Config{
		Models: []easel.Model{m}, Catalog: st, Blobs: fs, Limits: unlimited(), Thumbnails: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(context.Background()) })
	ctx := context.Background()
	alice := &service.Principal{UserID: "alice"}
	r := req("kept whole")
	r.N = 2
	res, err := svc.Generate(ctx, alice, r, "")
	if err != nil {
		t.Fatal(err)
	}
	if n := m.released.Load(); n != 2 {
		t.Errorf("released %d images after Generate, want 2", n)
	}
	for _, img := range res.Images {
		body, _, err := fs.Get(ctx, img.Key)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(body)
		body.Close()
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != img.SHA256 {
			t.Errorf("stored object of %s does not match its sha256: its bytes changed before the upload ended", img.ID)
		}
		// The thumbnail, made later in the background, was made from a copy.
		var thumb string
		for deadline := time.Now().Add(10 * time.Second); thumb == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			got, err := svc.GetImage(ctx, alice, img.ID)
			if err != nil {
				t.Fatal(err)
			}
			thumb = got.ThumbKey
		}
		if thumb == "" {
			t.Fatalf("no thumbnail for %s", img.ID)
		}
		body, _, err = fs.Get(ctx, thumb)
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(body)
		body.Close()
		if _, err := jpeg.DecodeConfig(bytes.NewReader(b)); err != nil {
			t.Errorf("thumbnail of %s: %v", img.ID, err)
		}
	}
}
