package bedrocktest

import (
	"net/http"
	"strings"
	"time"
)

// Lifecycle is a model's lifecycle as Bedrock's control plane reports it
// (GetFoundationModel's modelDetails.modelLifecycle).
type Lifecycle struct {
	// Status is "ACTIVE" or "LEGACY" (Bedrock's values); "" answers with no
	// lifecycle at all.
	Status string
	// LegacyTime and EndOfLifeTime are reported when not zero.
	LegacyTime    time.Time
	EndOfLifeTime time.Time
}

// WithLifecycle sets what GetFoundationModel reports for a model id (a base id, as
// the control plane knows it). Every model the fake serves starts ACTIVE.
func WithLifecycle(modelID string, lc Lifecycle) Option {
	return func(h *Handler) { h.setLifecycle(modelID, lc) }
}

// WithoutModel makes GetFoundationModel answer ResourceNotFoundException for a model
// id, as Bedrock does for a model the region does not offer.
func WithoutModel(modelID string) Option {
	return func(h *Handler) { h.removeModel(modelID) }
}

// SetLifecycle changes what GetFoundationModel reports for a model id.
func (h *Handler) SetLifecycle(modelID string, lc Lifecycle) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.setLifecycle(modelID, lc)
}

func (h *Handler) setLifecycle(modelID string, lc Lifecycle) {
	if h.lifecycles == nil {
		h.lifecycles = map[string]*Lifecycle{}
	}
	h.lifecycles[modelID] = &lc
}

func (h *Handler) removeModel(modelID string) {
	if h.lifecycles == nil {
		h.lifecycles = map[string]*Lifecycle{}
	}
	h.lifecycles[modelID] = nil
}

// Lookups returns how many signed GetFoundationModel calls asked for modelID.
func (h *Handler) Lookups(modelID string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lookups[modelID]
}

// lifecycle returns a model's lifecycle and whether the control plane knows it.
func (h *Handler) lifecycle(modelID string) (Lifecycle, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lookups == nil {
		h.lookups = map[string]int{}
	}
	h.lookups[modelID]++
	if lc, set := h.lifecycles[modelID]; set {
		if lc == nil {
			return Lifecycle{}, false
		}
		return *lc, true
	}
	if _, ok := fakeModels()[modelID]; ok {
		return Lifecycle{Status: "ACTIVE"}, true
	}
	return Lifecycle{}, false
}

// serveFoundationModel answers the control plane's GET /foundation-models/{id}
// (GetFoundationModel), signed like every Bedrock call (service "bedrock").
func (h *Handler) serveFoundationModel(w http.ResponseWriter, r *http.Request, id string) {
	if bad := h.verifySigV4(r, nil); bad != nil {
		writeError(w, http.StatusForbidden, bad.Exception, bad.Message)
		return
	}
	if strings.HasPrefix(id, "arn:") || baseID(id) != id {
		// The control plane takes a foundation-model id or its ARN; Easel sends the id.
		if i := strings.LastIndexByte(id, '/'); strings.HasPrefix(id, "arn:") && i >= 0 {
			id = id[i+1:]
		} else {
			writeError(w, http.StatusBadRequest, "ValidationException", "The provided model identifier is invalid.")
			return
		}
	}
	lc, ok := h.lifecycle(id)
	if !ok {
		writeError(w, http.StatusNotFound, "ResourceNotFoundException", "The model "+id+" was not found.")
		return
	}
	details := map[string]any{
		"modelArn":                   "arn:aws:bedrock:" + h.region + "::foundation-model/" + id,
		"modelId":                    id,
		"modelName":                  id,
		"providerName":               strings.SplitN(id, ".", 2)[0],
		"inputModalities":            []string{"TEXT", "IMAGE"},
		"outputModalities":           []string{"IMAGE"},
		"responseStreamingSupported": false,
		"customizationsSupported":    []string{},
		"inferenceTypesSupported":    []string{"ON_DEMAND"},
	}
	if lc.Status != "" {
		m := map[string]any{"status": lc.Status}
		if !lc.LegacyTime.IsZero() {
			m["legacyTime"] = lc.LegacyTime.UTC().Format(time.RFC3339)
		}
		if !lc.EndOfLifeTime.IsZero() {
			m["endOfLifeTime"] = lc.EndOfLifeTime.UTC().Format(time.RFC3339)
		}
		details["modelLifecycle"] = m
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Requestid", randomHex(16))
	_, _ = w.Write(mustJSON(map[string]any{"modelDetails": details}))
}
