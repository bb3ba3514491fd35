const express = require("express");

const app = express();
const tags = ["alpha", "beta", "gamma", "delta"];

app.get("/tags", (req, res) => {
  const prefix = String(req.query.prefix || "").replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const matcher = new RegExp("^" + prefix);
  res.json(tags.filter((t) => matcher.test(t)));
});

module.exports = app;
