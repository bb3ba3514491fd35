const express = require("express");
const app = express();

app.get("/sso/callback", (req, res) => {
  const back = req.query.returnTo;
  res.redirect(back);
});
