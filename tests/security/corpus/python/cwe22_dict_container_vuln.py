from flask import Flask, request

app = Flask(__name__)


@app.route("/doc")
def doc():
    param = request.args.get("name", "")
    names = {"a": "index.txt", "b": param}
    with open("/srv/docs/" + names["b"]) as fh:
        return fh.read()
