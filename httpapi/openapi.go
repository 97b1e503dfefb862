package httpapi

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the API description, served at /openapi.yaml. A test keeps its paths and
// the router's routes the same.
//
//go:embed openapi.yaml
var OpenAPI []byte

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(OpenAPI)
}
