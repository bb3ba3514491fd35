from flask import Flask, request, session

app = Flask(__name__)


@app.post("/switch")
def switch_account():
    account = int(request.form.get("account"))
    session["account_id"] = account
    return "switched"
