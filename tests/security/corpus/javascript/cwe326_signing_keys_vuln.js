const crypto = require("crypto");

const KEY_OPTIONS = { modulusLength: 1024, publicExponent: 0x10001 };

function newSigningKeys() {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("rsa", {
    modulusLength: 1024,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  return { publicKey, privateKey, options: KEY_OPTIONS };
}

module.exports = { newSigningKeys };
