package service

import "sync"

// hub tells watchers in this process that a job changed, so that event streams and
// synchronous requests wake at once when the job runs here; changes made by other
// instances are found by polling the catalog.
type hub struct {
	mu    sync.Mutex
	watch map[string]map[chan struct{}]struct{}
}

func newHub() *hub { return &hub{watch: map[string]map[chan struct{}]struct{}{}} }

// subscribe returns a channel that receives a value (coalesced) whenever job id
// changes, and a function that ends the subscription.
func (h *hub) subscribe(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	m := h.watch[id]
	if m == nil {
		m = map[chan struct{}]struct{}{}
		h.watch[id] = m
	}
	m[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(m, ch)
		if len(m) == 0 && h.watch[id] != nil && len(h.watch[id]) == 0 {
			delete(h.watch, id)
		}
	}
}

// changed wakes the watchers of job id.
func (h *hub) changed(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.watch[id] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
