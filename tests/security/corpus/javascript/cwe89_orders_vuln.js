const express = require("express");
const app = express();

app.get("/orders", async (req, res) => {
  const status = req.query.status;
  const sql = `SELECT * FROM orders WHERE status = '${status}' ORDER BY created DESC`;
  const result = await pool.query(sql);
  res.json(result.rows);
});
