package api

import (
	"net/http"
)

func Throttle(w http.ResponseWriter, r *http.Request) {
	wait := r.URL.Query().Get("wait")
	w.Header().Add("Retry-After", wait)
	w.WriteHeader(http.StatusTooManyRequests)
}
