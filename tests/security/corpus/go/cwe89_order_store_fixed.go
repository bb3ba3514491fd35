package orders

import (
	"database/sql"
)

type Store struct{ db *sql.DB }

// Total sums the orders a customer placed with the given status.
func (s *Store) Total(customer, status string) (float64, error) {
	q := "SELECT COALESCE(SUM(amount), 0) FROM orders WHERE customer = $1 AND status = $2"
	var total float64
	err := s.db.QueryRow(q, customer, status).Scan(&total)
	return total, err
}
