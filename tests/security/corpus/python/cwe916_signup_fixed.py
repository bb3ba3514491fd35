import hashlib
import os


def register(db, username, password):
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=2**14, r=8, p=1).hex()
    db.execute("INSERT INTO users (name, salt, pw) VALUES (?, ?, ?)", (username, salt.hex(), digest))
