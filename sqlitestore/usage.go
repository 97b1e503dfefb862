package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/easelhq/easel"
)

// AddUsage adds n to the user's counter for period and returns the new total. With
// limit > 0 and n > 0 it adds nothing and returns EQuotaExceeded when the total would
// pass limit. One statement checks and adds, so concurrent callers, in this process or
// others, never overshoot.
func (s *Store) AddUsage(ctx context.Context, userID, period string, n, limit int) (int, error) {
	var total int
	err := s.writeRow(ctx, `INSERT INTO usage (user_id, period, count)
		SELECT ?1, ?2, ?3 WHERE ?4 <= 0 OR ?3 <= 0 OR ?3 <= ?4
		ON CONFLICT (user_id, period) DO UPDATE SET count = count + excluded.count
			WHERE ?4 <= 0 OR excluded.count <= 0 OR count + excluded.count <= ?4
		RETURNING count`, userID, period, n, limit).Scan(&total)
	if errors.Is(err, sql.ErrNoRows) {
		return s.usage(ctx, userID, period, limit)
	}
	if err != nil {
		return 0, dbError(fmt.Sprintf("add usage of %s", userID), err)
	}
	return total, nil
}

// usage returns the counter that a refused AddUsage left as it was, with EQuotaExceeded.
func (s *Store) usage(ctx context.Context, userID, period string, limit int) (int, error) {
	var total int
	err := s.readRow(ctx, `SELECT count FROM usage WHERE user_id = ? AND period = ?`,
		userID, period).Scan(&total)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, dbError(fmt.Sprintf("read usage of %s", userID), err)
	}
	return total, easel.Errorf(easel.EQuotaExceeded, "Quota of %d exceeded.", limit)
}
