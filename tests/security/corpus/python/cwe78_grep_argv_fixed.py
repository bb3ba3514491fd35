import subprocess

from flask import Flask, request

app = Flask(__name__)


@app.route("/logs/search")
def search_logs():
    pattern = request.args.get("q", "")
    argv = ["grep", "-n", "-e"]
    argv.append(pattern)
    argv.append("/var/log/app.log")
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    return {"lines": result.stdout.splitlines()[-50:]}
