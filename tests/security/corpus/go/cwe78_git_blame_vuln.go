package main

import (
	"net/http"
	"os/exec"
)

func blame(w http.ResponseWriter, r *http.Request) {
	file := r.URL.Query().Get("file")
	out, err := exec.Command("sh", "-c", "git blame --porcelain "+file).Output()
	if err != nil {
		http.Error(w, "blame failed", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Write(out)
}
