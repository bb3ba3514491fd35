const express = require("express");
const sqlite3 = require("sqlite3");

const db = new sqlite3.Database("notes.db");
const app = express();

app.get("/notes", (req, res) => {
  const tag = req.query.tag || "";
  const sql = "SELECT id, title, body FROM notes WHERE tag = '" + tag + "' ORDER BY created DESC";
  db.all(sql, (err, rows) => {
    if (err) return res.status(500).json({ error: "query failed" });
    res.json(rows);
  });
});

app.delete("/notes/:id", (req, res) => {
  const sql = `DELETE FROM notes WHERE id = ${req.params.id}`;
  db.run(sql, (err) => res.status(err ? 500 : 204).end());
});

module.exports = app;
