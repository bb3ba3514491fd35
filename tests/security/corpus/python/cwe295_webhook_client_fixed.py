import requests


def notify(url, payload):
    resp = requests.post(url, json=payload, timeout=10)
    resp.raise_for_status()
    return resp.status_code
