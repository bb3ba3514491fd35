import sqlite3
from flask import Flask, request

app = Flask(__name__)


def build_filter(column, value):
    return "{} = '{}'".format(column, value)


@app.route("/users")
def users():
    db = sqlite3.connect("app.db")
    where = build_filter("email", request.args["email"])
    return {"users": db.execute("SELECT * FROM users WHERE " + where).fetchall()}
