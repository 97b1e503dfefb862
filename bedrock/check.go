package bedrock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	awsbedrock "github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrock/types"
)

// CheckModels asks the Bedrock control plane (GetFoundationModel) about each
// configured model id (aliases, inference profile prefixes and ARNs are reduced to
// the foundation model). It fails, naming every such model, only when a model cannot
// be used: the region does not offer it or the lookup is refused (the error says
// which), or it is past its end-of-life time. A LEGACY model still answers until its
// end of life, so it only logs a warning with that date; so does a model without a
// lifecycle or with a status this version does not know.
func CheckModels(ctx context.Context, client *awsbedrock.Client, ids []string, log *slog.Logger) error {
	now := time.Now()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var problems []string
	for _, id := range ids {
		base := BaseModelID(id)
		out, err := client.GetFoundationModel(ctx, &awsbedrock.GetFoundationModelInput{ModelIdentifier: &base})
		if err != nil {
			var nf *types.ResourceNotFoundException
			if errors.As(err, &nf) {
				problems = append(problems, fmt.Sprintf("%s: not offered in this region (%v)", id, err))
			} else {
				problems = append(problems, fmt.Sprintf("%s: %v", id, err))
			}
			continue
		}
		var lc *types.FoundationModelLifecycle
		if out.ModelDetails != nil {
			lc = out.ModelDetails.ModelLifecycle
		}
		if lc == nil {
			log.Warn("bedrock model reports no lifecycle; assuming it is usable", "model", id)
			continue
		}
		eol := ""
		if lc.EndOfLifeTime != nil {
			eol = lc.EndOfLifeTime.UTC().Format("2006-01-02")
			if !now.Before(*lc.EndOfLifeTime) {
				problems = append(problems, fmt.Sprintf("%s is past its end of life (%s, status %s)", id, eol, lc.Status))
				continue
			}
		}
		switch lc.Status {
		case types.FoundationModelLifecycleStatusActive:
		case types.FoundationModelLifecycleStatusLegacy:
			log.Warn("bedrock model is LEGACY: it still answers, but replace it before its end of life",
				"model", id, "end_of_life", orUnknown(eol))
		default:
			log.Warn("bedrock model reports a lifecycle status this version does not know; assuming it is usable",
				"model", id, "status", string(lc.Status), "end_of_life", orUnknown(eol))
		}
	}
	if len(problems) > 0 {
		return errors.New("bedrock: configured models cannot be used: " + strings.Join(problems, "; "))
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "not announced"
	}
	return s
}
