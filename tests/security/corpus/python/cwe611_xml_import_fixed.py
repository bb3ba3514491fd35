import defusedxml.ElementTree as ET
from flask import Flask, request

app = Flask(__name__)


@app.post("/import")
def import_feed():
    root = ET.fromstring(request.data)
    return {"entries": len(root)}
