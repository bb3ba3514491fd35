import sqlite3
from flask import Flask, request

app = Flask(__name__)


@app.route("/item")
def item():
    param = request.args.get("id", "")
    values = ["safe", param, "moresafe"]
    values.pop(0)
    bar = values[0]
    db = sqlite3.connect("shop.db")
    return {"rows": db.execute("SELECT * FROM items WHERE id = '" + bar + "'").fetchall()}
