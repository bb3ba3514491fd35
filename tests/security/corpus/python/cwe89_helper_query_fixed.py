import sqlite3
from flask import Flask, request

app = Flask(__name__)


def build_filter(column):
    return "{} = ?".format(column)


@app.route("/users")
def users():
    db = sqlite3.connect("app.db")
    where = build_filter("email")
    return {"users": db.execute("SELECT * FROM users WHERE " + where, (request.args["email"],)).fetchall()}
