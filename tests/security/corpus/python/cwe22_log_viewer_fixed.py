import os
from flask import Flask, request, abort

app = Flask(__name__)
LOGS = "/var/log/app"


@app.get("/logs")
def show_log():
    path = os.path.realpath(os.path.join(LOGS, request.args["name"]))
    if os.path.commonpath([path, LOGS]) != LOGS:
        abort(404)
    with open(path) as fh:
        return fh.read()
