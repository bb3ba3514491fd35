const jwt = require("jsonwebtoken");

function requireAdmin(req, res, next) {
  const token = (req.headers.authorization || "").replace(/^Bearer /, "");
  let claims;
  try {
    claims = jwt.verify(token, process.env.JWT_KEY, { algorithms: ["HS256"] });
  } catch (e) {
    return res.status(401).end();
  }
  if (claims.role !== "admin") {
    return res.status(403).end();
  }
  req.user = claims.sub;
  return next();
}

module.exports = { requireAdmin };
