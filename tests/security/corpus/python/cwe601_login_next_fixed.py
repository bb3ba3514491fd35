from urllib.parse import urlparse
from flask import Flask, request, redirect, session

app = Flask(__name__)


@app.post("/login")
def login():
    session["user"] = "alice"
    target = request.form.get("next") or "/"
    if urlparse(target).netloc:
        target = "/"
    return redirect(target)
