const express = require("express");
const { exec } = require("child_process");
const app = express();

app.post("/thumb", (req, res) => {
  const file = req.body.file;
  exec("convert " + file + " -resize 64x64 thumb.png", (err) => {
    res.json({ ok: !err });
  });
});
