import os
from flask import Flask, request
from werkzeug.utils import secure_filename

app = Flask(__name__)
UPLOADS = "/var/app/uploads"


@app.route("/upload", methods=["POST"])
def upload():
    f = request.files["doc"]
    target = os.path.join(UPLOADS, secure_filename(f.filename))
    with open(target, "wb") as out:
        out.write(f.read())
    return "stored"
