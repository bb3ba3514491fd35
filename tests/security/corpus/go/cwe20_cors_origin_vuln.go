package web

import (
	"net/http"
	"strings"
)

func AllowOrigin(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if strings.HasSuffix(origin, "example.com") {
		w.Header().Set("Access-Control-Allow-Origin", origin)
	}
}
