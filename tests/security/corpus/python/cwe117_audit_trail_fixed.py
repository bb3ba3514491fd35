import logging
import re

from flask import Flask, request

app = Flask(__name__)
audit = logging.getLogger("audit")


@app.route("/transfer", methods=["POST"])
def transfer():
    account = re.sub(r"[\r\n]", "_", request.form["account"])
    amount = int(request.form["amount"])
    audit.info("transfer of %d to account %s", amount, account)
    return "queued"
