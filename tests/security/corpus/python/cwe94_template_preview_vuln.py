from flask import Flask, request, render_template_string

app = Flask(__name__)


@app.post("/preview")
def preview():
    template = request.form["template"]
    return render_template_string(template, user="demo")
