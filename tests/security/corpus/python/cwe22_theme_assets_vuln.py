import os

from flask import Flask, abort, request

app = Flask(__name__)
THEMES = "/srv/app/themes"


@app.route("/theme")
def theme_asset():
    name = request.args.get("file", "")
    if not name:
        abort(404)
    with open(os.path.join(THEMES, name), "rb") as fh:
        return fh.read()
