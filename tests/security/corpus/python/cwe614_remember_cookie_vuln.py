from flask import Flask, make_response

app = Flask(__name__)


@app.post("/remember")
def remember():
    resp = make_response("ok")
    resp.set_cookie("remember_token", "abc", max_age=3600, httponly=True)
    return resp
