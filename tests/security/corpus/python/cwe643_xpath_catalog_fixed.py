from lxml import etree
from flask import Flask, request

app = Flask(__name__)
CATALOG = etree.parse("catalog.xml")


@app.get("/book")
def book():
    title = request.args.get("title", "")
    return {"price": CATALOG.xpath("//book[title/text()=$t]/price/text()", t=title)}
