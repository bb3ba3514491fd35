function createInviteCode() {
  let code = "";
  for (let i = 0; i < 10; i++) {
    code += Math.floor(Math.random() * 36).toString(36);
  }
  return code;
}
module.exports = { createInviteCode };
