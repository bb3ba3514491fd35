const express = require("express");

const app = express();
app.use(express.json());

const FORMULAS = new Set(["1 + 1", "60 * 60", "24 * 60 * 60"]);

app.post("/reports/formula", (req, res) => {
  const formula = req.body.formula;
  if (!FORMULAS.has(formula)) {
    return res.status(400).json({ error: "formula not allowed" });
  }
  const value = eval(formula);
  res.json({ value: Number(value) });
});
