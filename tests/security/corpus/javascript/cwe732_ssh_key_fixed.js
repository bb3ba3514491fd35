const fs = require("fs");
const path = require("path");

function writeDeployKey(dir, privateKeyPem) {
  const file = path.join(dir, "id_ed25519");
  fs.writeFileSync(file, privateKeyPem, { mode: 0o600 });
  return file;
}

module.exports = { writeDeployKey };
