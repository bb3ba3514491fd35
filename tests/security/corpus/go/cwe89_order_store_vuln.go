package orders

import (
	"database/sql"
	"fmt"
)

type Store struct{ db *sql.DB }

// Total sums the orders a customer placed with the given status.
func (s *Store) Total(customer, status string) (float64, error) {
	q := fmt.Sprintf("SELECT COALESCE(SUM(amount), 0) FROM orders WHERE customer = '%s' AND status = '%s'",
		customer, status)
	var total float64
	err := s.db.QueryRow(q).Scan(&total)
	return total, err
}
