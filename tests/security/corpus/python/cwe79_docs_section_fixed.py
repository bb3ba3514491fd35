from flask import Flask, request

app = Flask(__name__)


@app.route("/docs/<path:page>")
def docs_page(page):
    area = request.path.split("/")[1]
    return "<h1>Documentation: " + area + "</h1>"
