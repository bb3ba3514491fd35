import os
from flask import Flask, request

app = Flask(__name__)
UPLOADS = "/var/app/uploads"


@app.route("/upload", methods=["POST"])
def upload():
    f = request.files["doc"]
    target = os.path.join(UPLOADS, f.filename)
    with open(target, "wb") as out:
        out.write(f.read())
    return "stored"
