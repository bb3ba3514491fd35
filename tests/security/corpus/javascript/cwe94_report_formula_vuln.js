const express = require("express");

const app = express();
app.use(express.json());

app.post("/reports/formula", (req, res) => {
  const formula = req.body.formula;
  if (formula.includes("process") || formula.includes("require")) {
    return res.status(400).json({ error: "formula not allowed" });
  }
  const value = eval(formula);
  res.json({ value: Number(value) });
});
