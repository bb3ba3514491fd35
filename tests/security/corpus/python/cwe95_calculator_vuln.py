from flask import Flask, request

app = Flask(__name__)


@app.post("/calc")
def calc():
    data = request.get_json()
    expression = data["expr"]
    return {"result": eval(expression)}
