import os
from flask import Flask, request

app = Flask(__name__)


@app.route("/cmd")
def cmd():
    param = request.headers.get("X-Target", "")
    num = 86
    if (7 * 42) - num > 200:
        bar = param
    else:
        bar = "localhost"
    os.system("ping -c 1 " + bar)
    return "ok"
