package service_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/easelhq/easel"
)

// Memory per generation: a bounded number of images between the model's answer and
// the upload, and the model's buffers handed back once stored.

func TestImagesInMemoryBounded(t *testing.T) {
	l := unlimited()
	l.MaxImagesInMemory = 3
	e := newEnv(t, l)
	e.model.wait = make(chan struct{})
	done := make(chan error, 4)
	gen := func(r *easel.GenerateRequest) {
		_, err := e.svc.Generate(context.Background(), e.alice, r, "")
		done <- err
	}
	two := req("two images")
	two.N = 2
	go gen(two)
	go gen(req("one image"))
	for e.model.calls.Load() < 2 { // both hold their room: 3 images
		time.Sleep(time.Millisecond)
	}
	// A fourth image waits for room before it calls the model. Its caller may stop
	// waiting; the job goes on (a caller who leaves cancels nothing).
	go gen(req("waits for room"))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := e.svc.Generate(ctx, e.bob, req("gives up"), ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Generate with no room until its deadline = %v, want the deadline", err)
	}
	if n := e.model.calls.Load(); n != 2 {
		t.Errorf("model called %d times with room for 3 images held by 2 calls, want 2", n)
	}
	close(e.model.wait)
	for range 3 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.model.calls.Load() < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := e.model.calls.Load(); n != 4 {
		t.Errorf("model called %d times, want 4 (the waiting ones ran once there was room)", n)
	}
}

func TestImagesInMemoryLargerThanTheLimit(t *testing.T) {
	// A request for more images than the limit takes all the room, not forever.
	l := unlimited()
	l.MaxImagesInMemory = 1
	e := newEnv(t, l)
	r := req("three at once")
	r.N = 3
	res, err := e.svc.Generate(context.Background(), e.alice, r, "")
	if err != nil || len(res.Images) != 3 {
		t.Fatalf("Generate n=3 with room for 1 = %v, %v; want 3 images", res, err)
	}
}
