from pathlib import Path
from flask import Flask, request

app = Flask(__name__)
LOGS = Path("/var/log/app")


@app.get("/logs")
def show_log():
    name = request.args["name"]
    return Path(str(LOGS) + "/" + name).read_text()
