package offline_test

import (
	"bytes"
	"testing"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/edittest"
	"github.com/easelhq/easel/offline"
)

// TestEditConformance runs the Editor conformance suite: every operation, its good
// requests and its bad ones.
func TestEditConformance(t *testing.T) {
	edittest.Run(t, easel.Operations(), func(t *testing.T) edittest.Harness {
		return edittest.Harness{Editor: offline.New()}
	})
}

// TestEditDeterministic: the same request gives the same bytes, for every operation.
func TestEditDeterministic(t *testing.T) {
	g := offline.New()
	spec := g.Spec()
	f := edittest.NewFixtures(t)
	for _, name := range spec.OperationNames() {
		op, _ := spec.Operation(name)
		req := f.Base(name, op)
		spec.NormalizeEdit(req)
		a, err := g.Edit(t.Context(), req)
		if err != nil {
			t.Fatalf("%s: Edit = %v", name, err)
		}
		b, err := g.Edit(t.Context(), req)
		if err != nil {
			t.Fatalf("%s: Edit = %v", name, err)
		}
		if !bytes.Equal(a.Images[0].Data, b.Images[0].Data) {
			t.Errorf("%s: two runs gave different bytes", name)
		}
	}
}
