import ast
import operator
from flask import Flask, request

app = Flask(__name__)
OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}


def evaluate(node):
    if isinstance(node, ast.Constant):
        return node.value
    return OPS[type(node.op)](evaluate(node.left), evaluate(node.right))


@app.post("/calc")
def calc():
    data = request.get_json()
    return {"result": evaluate(ast.parse(data["expr"], mode="eval").body)}
