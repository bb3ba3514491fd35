"""Reach each tenant's own deployment."""
from urllib.parse import quote

import requests

TIMEOUT = 5


def tenant_status(subdomain: str) -> int:
    resp = requests.get(f"https://status.apps.example.com/healthz/{quote(subdomain)}", timeout=TIMEOUT)
    return resp.status_code


def notify_tenant(subdomain: str, change: dict) -> None:
    url = "https://hooks.apps.example.com/tenants/" + quote(subdomain) + "/settings"
    requests.post(url, json=change, timeout=TIMEOUT)
