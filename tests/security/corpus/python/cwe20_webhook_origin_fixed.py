from urllib.parse import urlparse

TRUSTED = "hooks.example.com"


def accept_callback(callback_url):
    hostname = urlparse(callback_url).hostname or ""
    if hostname == TRUSTED or hostname.endswith("." + TRUSTED):
        return callback_url
    raise ValueError("untrusted callback host")
