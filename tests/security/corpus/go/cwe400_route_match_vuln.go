package api

import (
	"net/http"
	"regexp"
)

func MatchRoute(w http.ResponseWriter, r *http.Request) {
	expr := r.FormValue("route")
	ok, _ := regexp.MatchString("^/api/"+expr+"$", r.URL.Path)
	if !ok {
		http.NotFound(w, r)
	}
}
