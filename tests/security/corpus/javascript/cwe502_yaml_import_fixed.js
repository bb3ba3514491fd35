const express = require("express");
const yaml = require("js-yaml");

const app = express();
app.use(express.text({ type: "application/yaml" }));

app.post("/pipelines/import", (req, res) => {
  const pipeline = yaml.load(req.body, { schema: yaml.JSON_SCHEMA });
  res.json({ name: pipeline.name, steps: (pipeline.steps || []).length });
});
