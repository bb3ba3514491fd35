import requests
from flask import Flask, request

app = Flask(__name__)


@app.route("/avatar")
def avatar():
    cdn = request.args.get("cdn", "cdn.example.com")
    user = request.args.get("user", "")
    url = f"https://{cdn}/avatars/{user}.png"
    resp = requests.get(url, timeout=5)
    return resp.content, resp.status_code, {"Content-Type": "image/png"}
