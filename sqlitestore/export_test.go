package sqlitestore

import (
	"context"
	"strings"
)

// ExplainList returns SQLite's plan of the gallery query with a cursor.
func ExplainList(ctx context.Context, s *Store) (string, error) {
	rows, err := s.reader.QueryContext(ctx, `EXPLAIN QUERY PLAN SELECT `+imageColumns+` FROM images
		WHERE user_id = ? AND status = 'ready' AND (created_at, id) < (?, ?)
		ORDER BY created_at DESC, id DESC LIMIT ?`, "u", 0, "", 10)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return "", err
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "\n"), rows.Err()
}
