const jwt = require("jsonwebtoken");

function requireAdmin(req, res, next) {
  const token = (req.headers.authorization || "").replace(/^Bearer /, "");
  const claims = jwt.decode(token);
  if (!claims || claims.role !== "admin") {
    return res.status(403).end();
  }
  req.user = claims.sub;
  return next();
}

module.exports = { requireAdmin };
