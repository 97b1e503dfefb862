package dynamostore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/easelhq/easel"
)

// Quota counters: pk "QUOTA#<user>", sk "QUOTA#<period>", used (number), expires_at.
// Settings: pk "SETTING#<name>", sk "SETTING", value (binary).
const (
	quotaPrefix   = "QUOTA#"
	usedAttr      = "used"
	settingPrefix = "SETTING#"
	settingSK     = "SETTING"
	// counterGrace is how long a counter is kept after its period ends.
	counterGrace = 7 * 24 * time.Hour
	// unknownPeriodTTL keeps a counter whose period name is not a date this long after
	// its last use.
	unknownPeriodTTL = 40 * 24 * time.Hour
)

// AddUsage adds n to the user's counter for period with one conditional UpdateItem
// (ADD), so concurrent callers can never take the total past limit: with limit > 0 and
// n > 0 the update only applies while used <= limit-n. A refused update is
// EQuotaExceeded and changes nothing.
func (s *Store) AddUsage(ctx context.Context, userID, period string, n, limit int) (int, error) {
	if userID == "" || period == "" {
		return 0, easel.Errorf(easel.EInvalid, "usage needs a user and a period")
	}
	in := &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      itemKey(quotaPrefix+userID, quotaPrefix+period),
		UpdateExpression:         aws.String("ADD #used :n SET #ttl = :ttl"),
		ExpressionAttributeNames: map[string]string{"#used": usedAttr, "#ttl": "expires_at"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":n":   num(int64(n)),
			":ttl": num(counterExpiry(period, s.now()).Unix()),
		},
		ReturnValues: types.ReturnValueUpdatedNew,
	}
	if limit > 0 && n > 0 {
		in.ExpressionAttributeValues[":max"] = num(int64(limit - n))
		if n > limit {
			// Even an absent counter (0) would pass the limit.
			in.ConditionExpression = aws.String("#used <= :max")
		} else {
			in.ConditionExpression = aws.String("attribute_not_exists(#used) OR #used <= :max")
		}
	}
	out, err := s.client.UpdateItem(ctx, in)
	if ok, _ := conditionFailed(err); ok {
		return 0, easel.WrapError(easel.EQuotaExceeded, err, "The quota of %d for %s is used up.", limit, period)
	}
	if err != nil {
		return 0, s.fail(err, "add usage of %q for %s", userID, period)
	}
	v, ok := out.Attributes[usedAttr].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("add usage of %q for %s: no %s in the answer", userID, period, usedAttr)
	}
	total, err := strconv.Atoi(v.Value)
	if err != nil {
		return 0, fmt.Errorf("add usage of %q for %s: total %q: %w", userID, period, v.Value, err)
	}
	return total, nil
}

// counterExpiry returns when TTL may delete a counter: a week after its period ends
// for periods named as dates ("2026-11-27", "2026-11", "2026"), otherwise 40 days after now.
func counterExpiry(period string, now time.Time) time.Time {
	for _, p := range []struct {
		layout string
		years  int
		months int
		days   int
	}{
		{"2006-01-02", 0, 0, 1},
		{"2006-01", 0, 1, 0},
		{"2006", 1, 0, 0},
	} {
		if t, err := time.Parse(p.layout, period); err == nil {
			return t.AddDate(p.years, p.months, p.days).Add(counterGrace)
		}
	}
	return now.Add(unknownPeriodTTL)
}

// Setting returns the value stored under name, storing value first if there is none:
// a PutItem conditional on the item's absence, so the first writer wins across processes.
func (s *Store) Setting(ctx context.Context, name string, value []byte) ([]byte, error) {
	if name == "" {
		return nil, easel.Errorf(easel.EInvalid, "setting needs a name")
	}
	key := itemKey(settingPrefix+name, settingSK)
	item := map[string]types.AttributeValue{"value": &types.AttributeValueMemberB{Value: value}}
	for k, v := range key {
		item[k] = v
	}
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(s.table),
		Item:                                item,
		ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	failed, old := conditionFailed(err)
	if !failed {
		if err != nil {
			return nil, s.fail(err, "put setting %q", name)
		}
		return value, nil
	}
	if len(old) == 0 {
		if old, err = s.getItem(ctx, settingPrefix+name, settingSK); err != nil {
			return nil, s.fail(err, "get setting %q", name)
		}
	}
	v, ok := old["value"].(*types.AttributeValueMemberB)
	if !ok {
		return nil, fmt.Errorf("setting %q: stored item has no binary value", name)
	}
	return v.Value, nil
}
