const express = require("express");

const app = express();

app.get("/search", (req, res) => {
  const term = req.query.q;
  console.info("search: " + term);
  res.json({ results: [] });
});

module.exports = app;
