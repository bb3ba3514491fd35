import subprocess

from flask import Flask, request

app = Flask(__name__)


@app.route("/logs/search")
def search_logs():
    pattern = request.args.get("q", "")
    argv = ["/bin/sh", "-c"]
    argv.append(f"grep -n {pattern} /var/log/app.log | tail -50")
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    return {"lines": result.stdout.splitlines()}
