from urllib.parse import urlparse

TRUSTED = "hooks.example.com"


def accept_callback(callback_url):
    netloc = urlparse(callback_url).netloc
    if "hooks.example.com" in netloc:
        return callback_url
    raise ValueError("untrusted callback host")
