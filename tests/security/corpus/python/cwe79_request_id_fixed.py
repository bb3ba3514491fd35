from flask import Flask, make_response, request

app = Flask(__name__)


@app.route("/ping")
def ping():
    request_id = request.headers.get("X-Request-Id", "")
    resp = make_response("<p>pong</p>")
    resp.headers["X-Request-Id"] = request_id
    return resp
