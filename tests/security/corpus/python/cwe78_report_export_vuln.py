import subprocess
from flask import Flask, request

app = Flask(__name__)

@app.route("/export")
def export():
    fmt = request.args.get("format", "pdf")
    out = "report." + fmt
    subprocess.check_output("pandoc report.md -o " + out, shell=True)
    return out
