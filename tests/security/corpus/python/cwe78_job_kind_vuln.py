import os

from flask import Flask, request

app = Flask(__name__)


class JobRequest:
    def kind(self):
        return request.args.get("kind", "daily")


@app.route("/jobs/run")
def run_job():
    kind = JobRequest().kind()
    match kind:
        case "daily":
            script = "run-daily"
        case other:
            script = "run-" + other
    os.system("/opt/jobs/" + script)
    return {"started": script}
