const express = require("express");

const app = express();

app.get("/locale", (req, res) => {
  const locale = String(req.query.locale || "en-GB").replace(/[\r\n]/g, "");
  res.setHeader("Set-Cookie", `locale=${locale}; Path=/; HttpOnly`);
  res.redirect("/");
});

module.exports = app;
