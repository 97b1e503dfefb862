package bedrock

import (
	"context"
	"errors"
	"fmt"
	"strings"

	awsbedrock "github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrock/types"
)

// CheckModels asks the Bedrock control plane (GetFoundationModel) about each
// configured model id (aliases, inference profile prefixes and ARNs are reduced to
// the foundation model) and returns an error naming every model that is not ACTIVE
// or could not be looked up, with its end-of-life date when Bedrock gives one. A
// LEGACY model still answers, but should be replaced before its end of life.
func CheckModels(ctx context.Context, client *awsbedrock.Client, ids []string) error {
	var problems []string
	for _, id := range ids {
		base := BaseModelID(id)
		out, err := client.GetFoundationModel(ctx, &awsbedrock.GetFoundationModelInput{ModelIdentifier: &base})
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", id, err))
			continue
		}
		var lc *types.FoundationModelLifecycle
		if out.ModelDetails != nil {
			lc = out.ModelDetails.ModelLifecycle
		}
		switch {
		case lc == nil:
			problems = append(problems, fmt.Sprintf("%s: no lifecycle status reported", id))
		case lc.Status != types.FoundationModelLifecycleStatusActive:
			p := fmt.Sprintf("%s is %s", id, lc.Status)
			if lc.EndOfLifeTime != nil {
				p += fmt.Sprintf(" (end of life %s)", lc.EndOfLifeTime.Format("2006-01-02"))
			}
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return errors.New("bedrock: configured models not active: " + strings.Join(problems, "; "))
	}
	return nil
}
