import hashlib


def hash_password(password, salt):
    return hashlib.md5((salt + password).encode()).hexdigest()


def check_password(password, salt, stored):
    return hash_password(password, salt) == stored
