from lxml import etree
from flask import Flask, request

app = Flask(__name__)
CATALOG = etree.parse("catalog.xml")


@app.get("/book")
def book():
    title = request.args.get("title", "")
    expr = "//book[title/text()='" + title + "']/price/text()"
    return {"price": CATALOG.xpath(expr)}
