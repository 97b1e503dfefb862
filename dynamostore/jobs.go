package dynamostore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/dynamostore/tabledef"
)

// Job items: pk "JOB#<id>", sk "JOB" (an id is unique across users; LookupJob is one
// GetItem). The job itself is one JSON attribute; the attributes the indexes and
// conditions need are derived from it on every write:
//
//   - gsi1pk "JOBS#<user>", gsi1sk "<created>#<id>": always (ListJobs);
//   - gsi2pk "ACTIVE#<user>", gsi2sk "<created>#<id>": while queued or running
//     (ListJobs of active jobs, CountQueued of a user);
//   - gsi3pk "QUEUED" / "LEASE" / "NOTIFY", gsi3sk "<time>#<id>": while queued (by
//     QueuedAt), running (by Lease.Until), or ended with Notify.DueAt set (by it)
//     (DueJobs, CountQueued of everyone);
//   - version (the compare-and-swap counter), status, user_id, queued_ns (while
//     queued), expires_ns and expires_at (TTL) when the job has an expiry.
const (
	jobPrefix     = "JOB#"
	jobSK         = "JOB"
	jobsPrefix    = "JOBS#"
	activePrefix  = "ACTIVE#"
	dueQueuedPK   = "QUEUED"
	dueLeasePK    = "LEASE"
	dueNotifyPK   = "NOTIFY"
	versionAttr   = "version"
	queuedAttr    = "queued_ns"
	secretPrefix  = "WHSEC#"
	secretSK      = "WHSEC"
	maxDuePage    = 1000
	filteredBatch = 100 // items read per request when a filter drops some
)

type jobItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	GSI1PK    string `dynamodbav:"gsi1pk"`
	GSI1SK    string `dynamodbav:"gsi1sk"`
	GSI2PK    string `dynamodbav:"gsi2pk,omitempty"`
	GSI2SK    string `dynamodbav:"gsi2sk,omitempty"`
	GSI3PK    string `dynamodbav:"gsi3pk,omitempty"`
	GSI3SK    string `dynamodbav:"gsi3sk,omitempty"`
	ID        string `dynamodbav:"id"`
	UserID    string `dynamodbav:"user_id"`
	Status    string `dynamodbav:"status"`
	QueuedNS  int64  `dynamodbav:"queued_ns,omitempty"`
	Version   int64  `dynamodbav:"version"`
	ExpiresNS int64  `dynamodbav:"expires_ns,omitempty"`
	ExpiresAt int64  `dynamodbav:"expires_at,omitempty"` // Unix s, TTL
	Job       string `dynamodbav:"job"`                  // the whole job, JSON
}

func jobPK(id string) string { return jobPrefix + id }

// encodeJob checks j and returns its item, stored with the given version.
func encodeJob(j *easel.Job, version int64) (map[string]types.AttributeValue, error) {
	if err := j.Check(); err != nil {
		return nil, err
	}
	for name, t := range map[string]time.Time{"creation time": j.CreatedAt, "queue time": j.QueuedAt,
		"notify time": j.Notify.DueAt, "expiry": j.ExpiresAt} {
		if !t.IsZero() || name == "creation time" {
			if err := checkTime("job "+name, t); err != nil {
				return nil, err
			}
		}
	}
	c := *j
	c.Version = version
	data, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("encode job %s: %w", j.ID, err)
	}
	it := jobItem{
		PK: jobPK(j.ID), SK: jobSK,
		GSI1PK: jobsPrefix + j.UserID, GSI1SK: sortKey(j.CreatedAt, j.ID),
		ID: j.ID, UserID: j.UserID, Status: string(j.Status), Version: version, Job: string(data),
	}
	switch {
	case j.Status == easel.JobQueued:
		it.GSI2PK, it.GSI2SK = activePrefix+j.UserID, it.GSI1SK
		it.GSI3PK, it.GSI3SK = dueQueuedPK, sortKey(j.QueuedAt, j.ID)
		it.QueuedNS = j.QueuedAt.UnixNano()
	case j.Status == easel.JobRunning:
		if err := checkTime("job lease end", j.Lease.Until); err != nil {
			return nil, err
		}
		it.GSI2PK, it.GSI2SK = activePrefix+j.UserID, it.GSI1SK
		it.GSI3PK, it.GSI3SK = dueLeasePK, sortKey(j.Lease.Until, j.ID)
	case !j.Notify.DueAt.IsZero():
		it.GSI3PK, it.GSI3SK = dueNotifyPK, sortKey(j.Notify.DueAt, j.ID)
	}
	if !j.ExpiresAt.IsZero() {
		it.ExpiresNS, it.ExpiresAt = j.ExpiresAt.UnixNano(), expiresAt(j.ExpiresAt)
	}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return nil, fmt.Errorf("encode job %s: %w", j.ID, err)
	}
	return item, nil
}

// decodeJob returns the job of an item, or nil when it has expired by now.
func decodeJob(item map[string]types.AttributeValue, now time.Time) (*easel.Job, error) {
	var it jobItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return nil, fmt.Errorf("decode job item: %w", err)
	}
	if it.ExpiresNS != 0 && it.ExpiresNS <= now.UnixNano() {
		return nil, nil
	}
	var j easel.Job
	if err := json.Unmarshal([]byte(it.Job), &j); err != nil {
		return nil, fmt.Errorf("decode job %s: %w", it.ID, err)
	}
	j.Version = it.Version
	return &j, nil
}

func jobNotFound(id string) error { return easel.Errorf(easel.ENotFound, "Job %s was not found.", id) }

// liveFilter is the filter that hides expired jobs; it uses #exp and :now.
const liveFilter = "(attribute_not_exists(#exp) OR #exp > :now)"

// CreateJob stores a new job and sets its Version to 1: a PutItem conditional on the
// id being new. EConflict if it exists, EInvalid if the job fails easel.Job.Check.
func (s *Store) CreateJob(ctx context.Context, j *easel.Job) error {
	item, err := encodeJob(j, 1)
	if err != nil {
		return err
	}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.table),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if ok, _ := conditionFailed(err); ok {
		return easel.WrapError(easel.EConflict, err, "A job with id %s exists.", j.ID)
	}
	if err != nil {
		return s.fail(err, "put job %s", j.ID)
	}
	j.Version = 1
	return nil
}

// UpdateJob replaces the job with a PutItem conditional on its owner, its version and
// its expiry, then increments j.Version. On a failed condition it reads the item to
// tell EConflict (a newer version) from ENotFound (gone, expired, another user's).
func (s *Store) UpdateJob(ctx context.Context, j *easel.Job) error {
	item, err := encodeJob(j, j.Version+1)
	if err != nil {
		return err
	}
	now := s.now()
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     item,
		ConditionExpression:      aws.String("#user = :user AND #version = :version AND " + liveFilter),
		ExpressionAttributeNames: map[string]string{"#user": userAttr, "#version": versionAttr, "#exp": expiresNano},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":user":    str(j.UserID),
			":version": num(j.Version),
			":now":     num(now.UnixNano()),
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	failed, old := conditionFailed(err)
	if !failed {
		if err != nil {
			return s.fail(err, "put job %s", j.ID)
		}
		j.Version++
		return nil
	}
	if len(old) == 0 {
		// Emulators may not return the item with the failure: read it.
		if old, err = s.getItem(ctx, jobPK(j.ID), jobSK); err != nil {
			return s.fail(err, "get job %s", j.ID)
		}
	}
	if len(old) == 0 {
		return jobNotFound(j.ID)
	}
	stored, err := decodeJob(old, now)
	if err != nil {
		return err
	}
	if stored == nil || stored.UserID != j.UserID {
		return jobNotFound(j.ID)
	}
	return easel.Errorf(easel.EConflict, "Job %s changed meanwhile (version %d, not %d).", j.ID, stored.Version, j.Version)
}

// GetJob returns the user's job. ENotFound otherwise.
func (s *Store) GetJob(ctx context.Context, userID, id string) (*easel.Job, error) {
	j, err := s.LookupJob(ctx, id)
	if err != nil {
		return nil, err
	}
	if j.UserID != userID {
		return nil, jobNotFound(id)
	}
	return j, nil
}

// LookupJob returns the job with that id whatever its owner (one strongly consistent
// GetItem). ENotFound if none, or expired.
func (s *Store) LookupJob(ctx context.Context, id string) (*easel.Job, error) {
	item, err := s.getItem(ctx, jobPK(id), jobSK)
	if err != nil {
		return nil, s.fail(err, "get job %s", id)
	}
	if item == nil {
		return nil, jobNotFound(id)
	}
	j, err := decodeJob(item, s.now())
	if err != nil {
		return nil, err
	}
	if j == nil {
		return nil, jobNotFound(id)
	}
	return j, nil
}

// ListJobs queries the user's partition newest first: gsi2 (ACTIVE#<user>) when the
// filter asks only for queued or running jobs, else gsi1 (JOBS#<user>), with a filter
// on the statuses. The cursor becomes the ExclusiveStartKey in the caller's own
// partition, as in ListImages.
func (s *Store) ListJobs(ctx context.Context, userID string, opt easel.JobListOptions) ([]*easel.Job, *easel.PageCursor, error) {
	if opt.Limit < 1 || opt.Limit > easel.MaxPageSize {
		return nil, nil, easel.ParamErrorf("limit", "The limit must be between 1 and %d.", easel.MaxPageSize)
	}
	sts, none := statusSet(opt.Statuses)
	if none {
		return nil, nil, nil
	}
	now := s.now()
	index, pkAttr, skAttr, pk := tabledef.GalleryIndex, tabledef.GSI1PK, tabledef.GSI1SK, jobsPrefix+userID
	active := len(sts) > 0
	for _, st := range sts {
		active = active && !st.Terminal()
	}
	if active {
		index, pkAttr, skAttr, pk = tabledef.PendingIndex, tabledef.GSI2PK, tabledef.GSI2SK, activePrefix+userID
		if len(sts) == 2 {
			sts = nil // both active statuses: the partition is the filter
		}
	}
	filter := liveFilter
	names := map[string]string{"#pk": pkAttr, "#exp": expiresNano}
	values := map[string]types.AttributeValue{":pk": str(pk), ":now": num(now.UnixNano())}
	if len(sts) > 0 {
		filter += " AND #status IN ("
		for i, st := range sts {
			if i > 0 {
				filter += ", "
			}
			name := ":s" + strconv.Itoa(i)
			filter += name
			values[name] = str(string(st))
		}
		filter += ")"
		names["#status"] = statusAttr
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(index),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		FilterExpression:          aws.String(filter),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ScanIndexForward:          aws.Bool(false),
	}
	if c := opt.After; c != nil {
		if err := checkTime("cursor time", c.CreatedAt); err != nil {
			return nil, nil, err
		}
		in.ExclusiveStartKey = map[string]types.AttributeValue{
			pkAttr:      str(pk),
			skAttr:      str(sortKey(c.CreatedAt, c.ID)),
			tabledef.PK: str(jobPK(c.ID)),
			tabledef.SK: str(jobSK),
		}
	}
	// One more than the page: if it comes back, there is a next page.
	jobs, err := s.queryJobs(ctx, in, opt.Limit+1, len(sts) > 0, now)
	if err != nil {
		return nil, nil, s.fail(err, "query jobs of %q", userID)
	}
	if len(jobs) <= opt.Limit {
		return jobs, nil, nil
	}
	jobs = jobs[:opt.Limit]
	last := jobs[opt.Limit-1]
	return jobs, &easel.PageCursor{CreatedAt: last.CreatedAt, ID: last.ID}, nil
}

// statusSet returns the distinct valid statuses of sts, in a fixed order, nil for all
// five; none reports a filter of unknown statuses only, which nothing matches.
func statusSet(sts []easel.JobStatus) (set []easel.JobStatus, none bool) {
	for _, st := range []easel.JobStatus{easel.JobQueued, easel.JobRunning, easel.JobSucceeded, easel.JobFailed, easel.JobCanceled} {
		for _, want := range sts {
			if want == st {
				set = append(set, st)
				break
			}
		}
	}
	switch {
	case len(set) == 5:
		return nil, false
	case len(set) == 0 && len(sts) > 0:
		return nil, true
	}
	return set, false
}

// queryJobs runs in until it has want live jobs or the results end. Without a
// selective filter each request asks for just what is missing; with one it reads
// filteredBatch items per request, so that a rare status does not cost a round trip
// per item. Expired jobs are filtered by the query and dropped again here (the filter
// and this check share the same clock reading).
func (s *Store) queryJobs(ctx context.Context, in *dynamodb.QueryInput, want int, selective bool, now time.Time) ([]*easel.Job, error) {
	var jobs []*easel.Job
	for len(jobs) < want {
		page := want - len(jobs)
		if selective {
			page = max(page, filteredBatch)
		}
		in.Limit = aws.Int32(int32(page))
		out, err := s.client.Query(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, item := range out.Items {
			j, err := decodeJob(item, now)
			if err != nil {
				return nil, err
			}
			if j != nil {
				jobs = append(jobs, j)
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	return jobs[:min(len(jobs), want)], nil
}

// CountQueued counts with Select COUNT: a user's jobs in their ACTIVE partition of
// gsi2 (filtered on status and QueuedAt), everyone's in the QUEUED partition of gsi3
// (QueuedAt in the key condition).
func (s *Store) CountQueued(ctx context.Context, userID string, before time.Time, limit int) (int, error) {
	if !before.IsZero() {
		if err := checkTime("queue cutoff", before); err != nil {
			return 0, err
		}
	}
	now := s.now()
	names := map[string]string{"#pk": tabledef.GSI3PK, "#exp": expiresNano}
	values := map[string]types.AttributeValue{":now": num(now.UnixNano())}
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		Select:                   types.SelectCount,
		ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	}
	filter := liveFilter
	if userID == "" {
		in.IndexName = aws.String(tabledef.DueIndex)
		values[":pk"] = str(dueQueuedPK)
		key := "#pk = :pk"
		if !before.IsZero() {
			key += " AND #sk < :before"
			names["#sk"] = tabledef.GSI3SK
			values[":before"] = str(sortTime(before))
		}
		in.KeyConditionExpression = aws.String(key)
	} else {
		in.IndexName = aws.String(tabledef.PendingIndex)
		names["#pk"] = tabledef.GSI2PK
		values[":pk"] = str(activePrefix + userID)
		in.KeyConditionExpression = aws.String("#pk = :pk")
		filter += " AND #status = :queued"
		names["#status"] = statusAttr
		values[":queued"] = str(string(easel.JobQueued))
		if !before.IsZero() {
			filter += " AND #queued < :before"
			names["#queued"] = queuedAttr
			values[":before"] = num(before.UnixNano())
		}
	}
	in.FilterExpression = aws.String(filter)
	n := 0
	for limit <= 0 || n < limit {
		out, err := s.client.Query(ctx, in)
		if err != nil {
			return 0, s.fail(err, "count queued jobs")
		}
		n += int(out.Count)
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	if limit > 0 {
		n = min(n, limit)
	}
	return n, nil
}

// duePartitions maps each kind of background work to its gsi3 partition.
var duePartitions = map[easel.JobDue]string{
	easel.DueQueued: dueQueuedPK,
	easel.DueLease:  dueLeasePK,
	easel.DueNotify: dueNotifyPK,
}

// DueJobs queries the work's partition of gsi3, oldest first, up to the given time
// (the sort key "<time>#<id>" sorts after "<time>", so the bound is strict). The index
// lags the table in DynamoDB, so a job may have moved on meanwhile: callers act on it
// with UpdateJob, whose condition catches that.
func (s *Store) DueJobs(ctx context.Context, due easel.JobDue, before time.Time, limit int) ([]*easel.Job, error) {
	pk, ok := duePartitions[due]
	if !ok {
		return nil, easel.Errorf(easel.EInvalid, "Unknown kind of due jobs %q.", due)
	}
	if limit < 1 {
		return nil, nil
	}
	if err := checkTime("due cutoff", before); err != nil {
		return nil, err
	}
	now := s.now()
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		IndexName:                aws.String(tabledef.DueIndex),
		KeyConditionExpression:   aws.String("#pk = :pk AND #sk < :before"),
		FilterExpression:         aws.String(liveFilter),
		ExpressionAttributeNames: map[string]string{"#pk": tabledef.GSI3PK, "#sk": tabledef.GSI3SK, "#exp": expiresNano},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":     str(pk),
			":before": str(sortTime(before)),
			":now":    num(now.UnixNano()),
		},
		ScanIndexForward: aws.Bool(true),
	}
	jobs, err := s.queryJobs(ctx, in, min(limit, maxDuePage), false, now)
	if err != nil {
		return nil, s.fail(err, "query due jobs (%s)", due)
	}
	return jobs, nil
}

// Webhook secrets: pk "WHSEC#<user>", sk "WHSEC".
type secretItem struct {
	PK            string `dynamodbav:"pk"`
	SK            string `dynamodbav:"sk"`
	UserID        string `dynamodbav:"user_id"`
	Key           string `dynamodbav:"key"`
	Previous      string `dynamodbav:"previous,omitempty"`
	PreviousUntil int64  `dynamodbav:"previous_until,omitempty"` // Unix ns
	CreatedAt     int64  `dynamodbav:"created_at"`               // Unix ns
	Version       int64  `dynamodbav:"version"`
}

// WebhookSecret returns the user's webhook signing secret. ENotFound if none.
func (s *Store) WebhookSecret(ctx context.Context, userID string) (*easel.WebhookSecret, error) {
	item, err := s.getItem(ctx, secretPrefix+userID, secretSK)
	if err != nil {
		return nil, s.fail(err, "get webhook secret")
	}
	if item == nil {
		return nil, easel.Errorf(easel.ENotFound, "No webhook secret yet.")
	}
	var it secretItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return nil, fmt.Errorf("decode webhook secret: %w", err)
	}
	w := &easel.WebhookSecret{UserID: it.UserID, Key: it.Key, Previous: it.Previous,
		CreatedAt: fromNanos(it.CreatedAt), Version: it.Version}
	if it.PreviousUntil != 0 {
		w.PreviousUntil = fromNanos(it.PreviousUntil)
	}
	return w, nil
}

// PutWebhookSecret stores the user's secret with a PutItem conditional on the stored
// version (on no item, for version 0), then increments w.Version. EConflict otherwise.
func (s *Store) PutWebhookSecret(ctx context.Context, w *easel.WebhookSecret) error {
	if w.UserID == "" || w.Key == "" {
		return easel.Errorf(easel.EInvalid, "A webhook secret needs a user and a key.")
	}
	if err := checkTime("webhook secret creation time", w.CreatedAt); err != nil {
		return err
	}
	it := secretItem{PK: secretPrefix + w.UserID, SK: secretSK, UserID: w.UserID, Key: w.Key,
		Previous: w.Previous, CreatedAt: w.CreatedAt.UnixNano(), Version: w.Version + 1}
	if !w.PreviousUntil.IsZero() {
		if err := checkTime("webhook secret grace period", w.PreviousUntil); err != nil {
			return err
		}
		it.PreviousUntil = w.PreviousUntil.UnixNano()
	}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return fmt.Errorf("encode webhook secret: %w", err)
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}
	if w.Version == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(pk)")
	} else {
		in.ConditionExpression = aws.String("#version = :version")
		in.ExpressionAttributeNames = map[string]string{"#version": versionAttr}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":version": num(w.Version)}
	}
	_, err = s.client.PutItem(ctx, in)
	if ok, _ := conditionFailed(err); ok {
		return easel.WrapError(easel.EConflict, err, "The webhook secret changed meanwhile.")
	}
	if err != nil {
		return s.fail(err, "put webhook secret")
	}
	w.Version++
	return nil
}
