const express = require("express");
const app = express();
const CHECKS = { large: (o) => o.total > 100, small: (o) => o.total <= 100 };

app.post("/rule", (req, res) => {
  const check = CHECKS[req.body.condition] || CHECKS.small;
  res.json({ match: check({ total: 10 }) });
});
