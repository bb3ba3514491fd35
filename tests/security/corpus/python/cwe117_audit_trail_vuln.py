import logging

from flask import Flask, request

app = Flask(__name__)
audit = logging.getLogger("audit")


@app.route("/transfer", methods=["POST"])
def transfer():
    account = request.form["account"]
    amount = int(request.form["amount"])
    audit.info("transfer of %d to account %s", amount, account)
    return "queued"
