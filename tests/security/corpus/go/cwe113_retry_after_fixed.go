package api

import (
	"net/http"
	"strings"
)

func Throttle(w http.ResponseWriter, r *http.Request) {
	wait := r.URL.Query().Get("wait")
	wait = strings.ReplaceAll(wait, "\r", "")
	wait = strings.ReplaceAll(wait, "\n", "")
	w.Header().Add("Retry-After", wait)
	w.WriteHeader(http.StatusTooManyRequests)
}
