package main

import (
	"net/http"
	"os/exec"
	"regexp"
)

var hostRe = regexp.MustCompile(`^[a-z0-9.-]+$`)

func diag(w http.ResponseWriter, r *http.Request) {
	target := "example.org"
	if hostRe.MatchString(r.FormValue("target")) {
		target = "localhost"
	}
	out, err := exec.Command("traceroute", target).CombinedOutput()
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Write(out)
}
