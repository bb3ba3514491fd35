from flask import Flask, request, render_template_string

app = Flask(__name__)
PREVIEW = "<article>{{ body }}</article>"


@app.post("/preview")
def preview():
    return render_template_string(PREVIEW, body=request.form["template"])
