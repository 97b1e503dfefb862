package service

import (
	"bytes"
	"context"
	"sync"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/thumbnail"
)

// thumbPool makes thumbnails off the request path: a bounded queue and a few workers.
// When the queue is full the thumbnail is skipped (the page falls back to the image),
// so a burst never holds unbounded memory.
type thumbPool struct {
	s    *Service
	jobs chan thumbJob
	wg   sync.WaitGroup

	mu     sync.Mutex // guards closed and sends on jobs
	closed bool
}

type thumbJob struct {
	img  *easel.Image
	data []byte
}

func newThumbPool(s *Service, workers, queue int) *thumbPool {
	p := &thumbPool{s: s, jobs: make(chan thumbJob, queue)}
	for range workers {
		p.wg.Go(p.work)
	}
	return p
}

// enqueue queues a thumbnail of data. A queued job keeps a copy of data: the caller's
// bytes go back to the model for reuse as soon as the image is stored, and the copies
// are bounded by the queue's length.
func (p *thumbPool) enqueue(img *easel.Image, data []byte) {
	// A request that outlives the drain timeout may still store images after close.
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if len(p.jobs) == cap(p.jobs) {
		p.s.log.Info("thumbnail queue full; skipped", "id", img.ID)
		return
	}
	// Sends happen under mu and workers only take, so the room seen above is still there.
	p.jobs <- thumbJob{img: img, data: bytes.Clone(data)}
}

func (p *thumbPool) work() {
	for j := range p.jobs {
		p.make(j)
	}
}

func (p *thumbPool) make(j thumbJob) {
	ctx := context.Background()
	out, err := thumbnail.Make(j.data)
	if err != nil {
		p.s.log.Warn("make thumbnail", "id", j.img.ID, "err", err)
		return
	}
	key := easel.ThumbKey(j.img.ID, thumbnail.ContentType)
	if err := p.s.blobs.Put(ctx, key, out, thumbnail.ContentType); err != nil {
		p.s.log.Warn("store thumbnail", "id", j.img.ID, "err", err)
		return
	}
	if err := p.s.catalog.SetThumbKey(ctx, j.img.UserID, j.img.ID, key); err != nil {
		// Deleted meanwhile: do not leave the thumbnail behind.
		_ = p.s.blobs.Delete(ctx, key)
		if !easel.IsCode(err, easel.ENotFound) {
			p.s.log.Warn("record thumbnail", "id", j.img.ID, "err", err)
		}
	}
}

// close stops accepting jobs and waits for the queued ones until ctx ends.
func (p *thumbPool) close(ctx context.Context) {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.jobs)
	}
	p.mu.Unlock()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
