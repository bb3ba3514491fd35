package tenants

import (
	"fmt"
	"net/http"
	"net/url"
	"time"
)

var client = &http.Client{Timeout: 5 * time.Second}

// Status asks a tenant's own subdomain whether it is up.
func Status(subdomain string) (int, error) {
	resp, err := client.Get("https://status.apps.example.com/healthz?tenant=" + url.QueryEscape(subdomain))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, nil
}

// Probe does the same with an explicit request.
func Probe(subdomain string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("https://status.apps.example.com/healthz/%s", url.PathEscape(subdomain)), nil)
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
