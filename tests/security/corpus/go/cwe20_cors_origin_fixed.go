package web

import (
	"net/http"
	"net/url"
	"strings"
)

func AllowOrigin(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	u, err := url.Parse(origin)
	if err != nil {
		return
	}
	h := u.Hostname()
	if h == "example.com" || strings.HasSuffix(h, ".example.com") {
		w.Header().Set("Access-Control-Allow-Origin", origin)
	}
}
