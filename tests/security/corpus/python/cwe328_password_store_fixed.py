import hashlib


def hash_password(password, salt):
    return hashlib.scrypt(password.encode(), salt=salt.encode(), n=2**14, r=8, p=1).hex()


def check_password(password, salt, stored):
    return hash_password(password, salt) == stored
