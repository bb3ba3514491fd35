from flask import Flask, request, send_file

app = Flask(__name__)


@app.route("/export")
def export():
    name = request.args.get("name", "report").replace("\r", "").replace("\n", "")
    response = send_file("/srv/exports/latest.csv", mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response
