const express = require("express");
const fs = require("fs");
const path = require("path");
const app = express();

app.get("/static", (req, res) => {
  const p = path.join("./public", path.basename(req.query.file));
  fs.createReadStream(p).pipe(res);
});
