import configparser
import subprocess

from flask import Flask, request

app = Flask(__name__)


@app.route("/hooks/test", methods=["POST"])
def test_hook():
    settings = configparser.ConfigParser()
    settings.read_dict({"hook": {"command": "true", "label": "default"}})
    settings.set("hook", "command", request.form.get("command", "true"))
    settings.set("hook", "label", "from-ui")
    subprocess.run(settings.get("hook", "command"), shell=True, check=False)
    return {"label": settings.get("hook", "label")}
