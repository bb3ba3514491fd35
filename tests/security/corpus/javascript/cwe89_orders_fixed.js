const express = require("express");
const app = express();

app.get("/orders", async (req, res) => {
  const status = req.query.status;
  const sql = "SELECT * FROM orders WHERE status = $1 ORDER BY created DESC";
  const result = await pool.query(sql, [status]);
  res.json(result.rows);
});
