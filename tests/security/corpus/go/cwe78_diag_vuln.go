package main

import (
	"net/http"
	"os/exec"
)

func diag(w http.ResponseWriter, r *http.Request) {
	target := r.FormValue("target")
	out, err := exec.Command("bash", "-c", "traceroute "+target).CombinedOutput()
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Write(out)
}
