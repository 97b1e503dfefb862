package service

import "context"

// DefaultMaxImagesInMemory is Limits.MaxImagesInMemory of a fresh install: with a
// 1024x1024 PNG (a ~2 MB model answer each) about 40 MB of images at most.
const DefaultMaxImagesInMemory = 16

// imageSlots bounds the images held in memory between the model's answer and the end
// of their upload: a generation of n images takes n slots before it calls the model and
// gives them back once its images are stored. Without it every generation in flight
// could hold its answer at once (64 in flight: ~150 MB, and the garbage collector lets
// the heap grow to twice that); with it the rest wait, holding nothing but their
// request. A generation takes its slots all at once (one taker at a time), so two
// generations of several images never deadlock each holding part of what they need.
type imageSlots struct {
	turn  chan struct{} // held by the one generation gathering its slots
	slots chan struct{}
}

func newImageSlots(n int) *imageSlots {
	if n <= 0 {
		return nil
	}
	return &imageSlots{turn: make(chan struct{}, 1), slots: make(chan struct{}, n)}
}

// acquire waits for n slots (at most all of them) or the end of ctx, and returns the
// func that gives them back. A nil imageSlots is unlimited.
func (s *imageSlots) acquire(ctx context.Context, n int) (release func(), err error) {
	if s == nil {
		return func() {}, nil
	}
	n = max(1, min(n, cap(s.slots)))
	select {
	case s.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	defer func() { <-s.turn }()
	free := func(k int) {
		for range k {
			<-s.slots
		}
	}
	for got := 0; got < n; got++ {
		select {
		case s.slots <- struct{}{}:
		case <-ctx.Done():
			free(got)
			return nil, context.Cause(ctx)
		}
	}
	return func() { free(n) }, nil
}
