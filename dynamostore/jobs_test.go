package dynamostore_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/dynamostore"
	"github.com/easelhq/easel/dynamostore/tabledef"
	"github.com/easelhq/easel/internal/awstest"
)

// TestJobRoundTrips checks which DynamoDB call, on which index, each job method makes:
// one per call, never a Scan.
func TestJobRoundTrips(t *testing.T) {
	counter := &opCounter{}
	cfg := dynamoConfig(t, counter.apiOption)
	s := openStore(t, cfg)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	j := &easel.Job{ID: easel.NewID(), UserID: "user-a", Status: easel.JobQueued, CreatedAt: now, QueuedAt: now}
	stale := *j
	steps := []struct {
		name string
		call func() error
		want []string
	}{
		{"CreateJob", func() error { return s.CreateJob(ctx, j) }, []string{"PutItem"}},
		{"UpdateJob", func() error { return s.UpdateJob(ctx, j) }, []string{"PutItem"}},
		{"UpdateJob(conflict)", func() error {
			stale.Version = 1
			if err := s.UpdateJob(ctx, &stale); easel.ErrorCode(err) != easel.EConflict {
				return fmt.Errorf("UpdateJob(stale) = %v, want a conflict", err)
			}
			return nil
		}, []string{"PutItem", "GetItem"}}, // dynalite returns no item with the failure
		{"GetJob", func() error { _, err := s.GetJob(ctx, "user-a", j.ID); return err }, []string{"GetItem"}},
		{"ListJobs", func() error {
			_, _, err := s.ListJobs(ctx, "user-a", easel.JobListOptions{Limit: 10})
			return err
		}, []string{"Query:" + tabledef.GalleryIndex}},
		{"ListJobs(active)", func() error {
			_, _, err := s.ListJobs(ctx, "user-a", easel.JobListOptions{Limit: 10, Statuses: []easel.JobStatus{easel.JobQueued}})
			return err
		}, []string{"Query:" + tabledef.PendingIndex}},
		{"ListJobs(ended)", func() error {
			_, _, err := s.ListJobs(ctx, "user-a", easel.JobListOptions{Limit: 10, Statuses: []easel.JobStatus{easel.JobFailed}})
			return err
		}, []string{"Query:" + tabledef.GalleryIndex}},
		{"CountQueued(user)", func() error { _, err := s.CountQueued(ctx, "user-a", time.Time{}, 20); return err },
			[]string{"Query:" + tabledef.PendingIndex}},
		{"CountQueued(all)", func() error { _, err := s.CountQueued(ctx, "", now, 0); return err },
			[]string{"Query:" + tabledef.DueIndex}},
		{"DueJobs", func() error { _, err := s.DueJobs(ctx, easel.DueLease, now, 100); return err },
			[]string{"Query:" + tabledef.DueIndex}},
		{"PutWebhookSecret", func() error {
			return s.PutWebhookSecret(ctx, &easel.WebhookSecret{UserID: "user-a", Key: "whsec_x", CreatedAt: now})
		}, []string{"PutItem"}},
		{"WebhookSecret", func() error { _, err := s.WebhookSecret(ctx, "user-a"); return err }, []string{"GetItem"}},
	}
	for _, st := range steps {
		counter.take()
		if err := st.call(); err != nil {
			t.Fatalf("%s = %v", st.name, err)
		}
		if got := counter.take(); !slices.Equal(got, st.want) {
			t.Errorf("%s made %v, want %v", st.name, got, st.want)
		}
	}
}

// TestMigrateNamesMissingIndex checks that a table made before jobs (without gsi3) is
// reported with what to do, rather than failing later in a query.
func TestMigrateNamesMissingIndex(t *testing.T) {
	cfg := dynamoConfig(t)
	ctx := t.Context()
	name := awstest.TableName(t, cfg)
	def := tabledef.Definition()
	def.Indexes = def.Indexes[:2]
	if _, err := dynamodb.NewFromConfig(cfg).CreateTable(ctx, dynamostore.CreateTableInput(name, def)); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	s, err := dynamostore.Open(ctx, cfg, "dynamodb://"+name)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err == nil || !strings.Contains(err.Error(), `"gsi3" is missing`) || !strings.Contains(err.Error(), "docs/dynamodb.md") {
		t.Errorf("Migrate of a table without gsi3 = %v, want an error naming the index and the fix", err)
	}
}

// BenchmarkJobOps measures each job operation's round trip to the DynamoDB endpoint
// (dynalite on loopback in the test script), among 1,000 stored jobs.
func BenchmarkJobOps(b *testing.B) {
	cfg := dynamoConfig(b)
	s := openStore(b, cfg)
	ctx := b.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	newJob := func(i int) *easel.Job {
		seed := uint64(i)
		j := &easel.Job{ID: easel.NewID(), UserID: fmt.Sprint("user-", i%10), Kind: easel.JobGenerate,
			Spec: easel.JobSpec{Generate: &easel.GenerateRequest{Prompt: "a lighthouse at dusk, oil on canvas",
				Model: "amazon.nova-canvas-v1:0", Width: 1024, Height: 1024, N: 1, Seed: &seed, OutputFormat: "png"}},
			CreatedAt: now, Status: easel.JobQueued, QueuedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)}
		j.Append(easel.EventJobQueued, now)
		return j
	}
	jobs := make([]*easel.Job, 1000)
	for i := range jobs {
		jobs[i] = newJob(i)
		if i%10 == 0 {
			jobs[i].Status, jobs[i].Lease = easel.JobRunning, &easel.JobLease{Token: "t", Until: now.Add(-time.Minute)}
		}
		if err := s.CreateJob(ctx, jobs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("CreateJob", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if err := s.CreateJob(ctx, newJob(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("UpdateJob", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			j := jobs[i%len(jobs)]
			j.Attempts++
			if err := s.UpdateJob(ctx, j); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("DueJobs", func(b *testing.B) {
		for b.Loop() {
			if due, err := s.DueJobs(ctx, easel.DueLease, now, 100); err != nil || len(due) != 100 {
				b.Fatalf("DueJobs = %d, %v", len(due), err)
			}
		}
	})
}
