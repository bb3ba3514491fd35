package main

import (
	"database/sql"
	"net/http"
)

var db *sql.DB

func lookup(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	query := "SELECT id FROM users WHERE name = '" + name + "'"
	row := db.QueryRow(query)
	var id int
	row.Scan(&id)
}
