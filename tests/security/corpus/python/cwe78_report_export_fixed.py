import subprocess
from flask import Flask, request

app = Flask(__name__)
FORMATS = {"pdf", "html", "docx"}

@app.route("/export")
def export():
    fmt = request.args.get("format", "pdf")
    if fmt not in FORMATS:
        fmt = "pdf"
    out = "report." + fmt
    subprocess.check_output(["pandoc", "report.md", "-o", out])
    return out
