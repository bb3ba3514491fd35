import hashlib

APP_SALT = b"accounts-v1"


def derive_login_key(password):
    return hashlib.pbkdf2_hmac("sha256", password.encode(), APP_SALT, 600_000)


def check_login(password, stored):
    return derive_login_key(password) == stored
