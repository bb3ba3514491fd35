import hashlib
import hmac
import secrets


def derive_login_key(password, salt=None):
    salt = salt or secrets.token_bytes(16)
    return salt, hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 600_000)


def check_login(password, salt, stored):
    return hmac.compare_digest(derive_login_key(password, salt)[1], stored)
