const express = require("express");
const app = express();

app.post("/rule", (req, res) => {
  const check = new Function("order", "return " + req.body.condition);
  res.json({ match: check({ total: 10 }) });
});
