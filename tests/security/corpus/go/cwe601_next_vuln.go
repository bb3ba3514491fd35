package main

import "net/http"

func after(w http.ResponseWriter, r *http.Request) {
	dest := r.URL.Query().Get("dest")
	http.Redirect(w, r, dest, http.StatusSeeOther)
}
