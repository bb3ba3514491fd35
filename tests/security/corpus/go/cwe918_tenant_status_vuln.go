package tenants

import (
	"fmt"
	"net/http"
	"time"
)

var client = &http.Client{Timeout: 5 * time.Second}

// Status asks a tenant's own subdomain whether it is up.
func Status(subdomain string) (int, error) {
	resp, err := client.Get(fmt.Sprintf("https://%s.apps.example.com/healthz", subdomain))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, nil
}

// Probe does the same with an explicit request.
func Probe(subdomain string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("https://%s.apps.example.com/healthz", subdomain), nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, nil
}
