package storetest

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/easelhq/easel"
)

// addUsage calls AddUsage and checks the returned total.
func addUsage(t *testing.T, c easel.Catalog, user, period string, n, limit, want int) {
	t.Helper()
	got, err := c.AddUsage(t.Context(), user, period, n, limit)
	call := fmt.Sprintf("AddUsage(%s, %s, %d, %d)", user, period, n, limit)
	checkCode(t, call, err, "")
	if got != want {
		t.Fatalf("%s = %d, want %d", call, got, want)
	}
}

func exceed(t *testing.T, c easel.Catalog, user, period string, n, limit int) {
	t.Helper()
	_, err := c.AddUsage(t.Context(), user, period, n, limit)
	checkCode(t, fmt.Sprintf("AddUsage(%s, %s, %d, %d)", user, period, n, limit), err, easel.EQuotaExceeded)
}

func testUsageAccumulates(t *testing.T, c easel.Catalog) {
	addUsage(t, c, "user-a", "2026-11-27", 1, 0, 1)
	addUsage(t, c, "user-a", "2026-11-27", 4, 0, 5)
	addUsage(t, c, "user-a", "2026-11-27", 0, 0, 5)
	addUsage(t, c, "user-a", "2026-11-27", 1000, 0, 1005) // limit 0: no limit
}

func testUsageLimit(t *testing.T, c easel.Catalog) {
	const p = "2026-11-27"
	addUsage(t, c, "user-a", p, 3, 10, 3)
	addUsage(t, c, "user-a", p, 4, 10, 7)
	exceed(t, c, "user-a", p, 4, 10)       // 11 would pass 10: nothing added
	addUsage(t, c, "user-a", p, 3, 10, 10) // reaching the limit exactly is allowed
	exceed(t, c, "user-a", p, 1, 10)
	addUsage(t, c, "user-a", p, 0, 0, 10)

	// A first request larger than the limit adds nothing either.
	exceed(t, c, "user-b", p, 11, 10)
	addUsage(t, c, "user-b", p, 1, 10, 1)
}

func testUsageRefund(t *testing.T, c easel.Catalog) {
	const p = "2026-11-27"
	addUsage(t, c, "user-a", p, 5, 5, 5)
	exceed(t, c, "user-a", p, 1, 5)
	addUsage(t, c, "user-a", p, -2, 5, 3) // refunds pass whatever the limit
	addUsage(t, c, "user-a", p, 2, 5, 5)
	addUsage(t, c, "user-a", p, -1, 0, 4)
}

func testUsageSeparate(t *testing.T, c easel.Catalog) {
	addUsage(t, c, "user-a", "2026-11-27", 5, 5, 5)
	addUsage(t, c, "user-a", "2026-11-28", 2, 5, 2)
	addUsage(t, c, "user-b", "2026-11-27", 3, 5, 3)
	addUsage(t, c, "user-a", "2026-11-27", 0, 0, 5)
	addUsage(t, c, "user-b", "2026-11-28", 0, 0, 0)
}

// testUsageConcurrent checks that the limit holds when many requests race for it.
func testUsageConcurrent(t *testing.T, c easel.Catalog) {
	const (
		workers = 12
		tries   = 4
		limit   = 25
	)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		ok     int
		errs   []error
		totals = map[int]bool{}
	)
	for range workers {
		wg.Go(func() {
			for range tries {
				total, err := c.AddUsage(t.Context(), "user-a", "2026-11-27", 1, limit)
				mu.Lock()
				switch {
				case err == nil:
					ok++
					if totals[total] {
						errs = append(errs, fmt.Errorf("total %d returned twice", total))
					}
					totals[total] = true
				case easel.ErrorCode(err) != easel.EQuotaExceeded:
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		t.Errorf("concurrent AddUsage: %v", err)
	}
	if ok != limit {
		t.Errorf("concurrent AddUsage: %d of %d calls succeeded, want %d (the limit)", ok, workers*tries, limit)
	}
	addUsage(t, c, "user-a", "2026-11-27", 0, 0, limit)
}

func testSetting(t *testing.T, c easel.Catalog) {
	ctx := t.Context()
	first := []byte("first-value")
	got, err := c.Setting(ctx, "cursor-secret", first)
	checkCode(t, "Setting(first)", err, "")
	if !bytes.Equal(got, first) {
		t.Fatalf("Setting(first) = %q, want %q", got, first)
	}
	got, err = c.Setting(ctx, "cursor-secret", []byte("second-value"))
	checkCode(t, "Setting(second)", err, "")
	if !bytes.Equal(got, first) {
		t.Errorf("Setting(second) = %q, want the first writer's %q", got, first)
	}
	other, err := c.Setting(ctx, "other", []byte{0, 1, 2, 255})
	checkCode(t, "Setting(other)", err, "")
	if !bytes.Equal(other, []byte{0, 1, 2, 255}) {
		t.Errorf("Setting(other) = %v, want [0 1 2 255] (binary values kept)", other)
	}
}

func testSettingConcurrent(t *testing.T, c easel.Catalog) {
	const workers = 8
	results := make([][]byte, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			results[i], errs[i] = c.Setting(t.Context(), "secret", []byte(fmt.Sprint("value-", i)))
		})
	}
	wg.Wait()
	if !strings.HasPrefix(string(results[0]), "value-") {
		t.Errorf("concurrent Setting = %q, want one of the values written", results[0])
	}
	for i := range workers {
		checkCode(t, "Setting", errs[i], "")
		if !bytes.Equal(results[i], results[0]) {
			t.Errorf("concurrent Setting: caller %d got %q, caller 0 got %q; want the same value", i, results[i], results[0])
		}
	}
}

func testCatalogPing(t *testing.T, c easel.Catalog) {
	checkCode(t, "Ping", c.Ping(t.Context()), "")
}
