import hashlib


def register(db, username, password):
    digest = hashlib.sha512(password.encode("utf-8")).hexdigest()
    db.execute("INSERT INTO users (name, pw) VALUES (?, ?)", (username, digest))
