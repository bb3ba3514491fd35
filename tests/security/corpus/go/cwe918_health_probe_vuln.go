package probe

import (
	"net/http"
	"time"
)

func Health(w http.ResponseWriter, r *http.Request) {
	target := "http://" + r.URL.Query().Get("node") + ":8080/healthz"
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
