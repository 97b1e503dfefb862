package httpapi

import (
	"fmt"
	"net/http"

	"github.com/easelhq/easel"
)

// modelJSON is one model as GET /v1/models shows it: OpenAI's model object (id, object,
// created, owned_by), so OpenAI clients can list Easel's models, with Easel's own
// description of what the model accepts beside it.
type modelJSON struct {
	Object  string `json:"object"` // always "model"
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
	// Default marks the model used when a request names none.
	Default bool `json:"default"`
	easel.ModelSpec
}

func (s *Server) modelJSON(spec easel.ModelSpec) modelJSON {
	return modelJSON{
		Object:    "model",
		Created:   s.started.Unix(),
		OwnedBy:   spec.Provider,
		Default:   spec.ID == s.cfg.Service.DefaultModel(),
		ModelSpec: spec,
	}
}

// models answers OpenAI's list shape, {"object": "list", "data": [...]}, the default
// model first.
func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	specs := s.cfg.Service.Models()
	data := make([]modelJSON, 0, len(specs))
	for _, spec := range specs {
		data = append(data, s.modelJSON(spec))
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

// model answers one model by id (OpenAI's GET /v1/models/{model}); 404 when this server
// has no such model.
func (s *Server) model(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("model")
	for _, spec := range s.cfg.Service.Models() {
		if spec.ID == id {
			writeJSON(w, http.StatusOK, s.modelJSON(spec))
			return
		}
	}
	s.writeError(w, r, &easel.Error{Code: easel.ENotFound, Param: "model",
		Message: fmt.Sprintf("This server has no model %q; GET /v1/models lists them.", id)})
}
