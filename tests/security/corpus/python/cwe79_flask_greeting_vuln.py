from flask import Flask, request, make_response

app = Flask(__name__)


@app.route("/greet")
def greet():
    name = request.cookies.get("name", "stranger")
    body = "<html><body><h1>Welcome back, %s!</h1></body></html>" % name
    return make_response(body)
