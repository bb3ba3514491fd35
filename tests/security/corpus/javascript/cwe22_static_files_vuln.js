const express = require("express");
const fs = require("fs");
const app = express();

app.get("/static", (req, res) => {
  const p = "./public/" + req.query.file;
  fs.createReadStream(p).pipe(res);
});
