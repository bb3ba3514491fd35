from flask import Flask, make_response, request

app = Flask(__name__)


@app.route("/ping")
def ping():
    request_id = request.headers.get("X-Request-Id", "")
    resp = make_response("<p>pong " + request_id + "</p>")
    return resp
