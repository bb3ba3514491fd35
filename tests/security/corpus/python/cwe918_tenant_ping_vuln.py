"""Reach each tenant's own deployment."""
import requests

TIMEOUT = 5


def tenant_status(subdomain: str) -> int:
    resp = requests.get(f"https://{subdomain}.apps.example.com/healthz", timeout=TIMEOUT)
    return resp.status_code


def notify_tenant(subdomain: str, change: dict) -> None:
    url = "https://" + subdomain + ".apps.example.com/hooks/settings"
    requests.post(url, json=change, timeout=TIMEOUT)
