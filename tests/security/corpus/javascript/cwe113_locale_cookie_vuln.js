const express = require("express");

const app = express();

app.get("/locale", (req, res) => {
  const locale = req.query.locale || "en-GB";
  res.setHeader("Set-Cookie", `locale=${locale}; Path=/; HttpOnly`);
  res.redirect("/");
});

module.exports = app;
