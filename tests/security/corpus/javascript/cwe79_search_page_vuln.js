const express = require("express");
const app = express();

app.get("/search", (req, res) => {
  const q = req.query.q || "";
  res.send(`<h2>Results for ${q}</h2><ul></ul>`);
});
