from flask import Flask, request
from lxml import etree

app = Flask(__name__)
DIRECTORY = etree.parse("members.xml")


@app.route("/member")
def member():
    handle = request.args.get("handle", "")
    found = DIRECTORY.xpath("//member[@handle='" + handle + "']/email/text()")
    return {"emails": [str(e) for e in found]}
