package main

import (
	"net/http"
	"strings"
)

func after(w http.ResponseWriter, r *http.Request) {
	dest := r.URL.Query().Get("dest")
	if !strings.HasPrefix(dest, "/") || strings.HasPrefix(dest, "//") {
		dest = "/"
	}
	http.Redirect(w, r, dest, http.StatusSeeOther)
}
