const express = require("express");
const escapeHtml = require("escape-html");
const app = express();

app.get("/search", (req, res) => {
  const q = req.query.q || "";
  res.send(`<h2>Results for ${escapeHtml(q)}</h2><ul></ul>`);
});
