package probe

import (
	"net/http"
	"net/url"
	"time"
)

func Health(w http.ResponseWriter, r *http.Request) {
	target := "http://health.internal.example.com:8080/healthz?node=" + url.QueryEscape(r.URL.Query().Get("node"))
	client := &http.Client{Timeout: 3 * time.Second}
	req, err := http.NewRequest("GET", target, nil)
	if err != nil {
		http.Error(w, "bad node", http.StatusBadRequest)
		return
	}
	resp, err := client.Do(req)
	if err != nil {
		http.Error(w, "down", http.StatusBadGateway)
		return
	}
	resp.Body.Close()
	w.WriteHeader(resp.StatusCode)
}
