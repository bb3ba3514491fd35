const crypto = require("crypto");

function createInviteCode() {
  return crypto.randomBytes(8).toString("hex");
}
module.exports = { createInviteCode };
