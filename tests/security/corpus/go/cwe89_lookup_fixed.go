package main

import (
	"database/sql"
	"net/http"
)

var db *sql.DB

func lookup(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	row := db.QueryRow("SELECT id FROM users WHERE name = $1", name)
	var id int
	row.Scan(&id)
}
