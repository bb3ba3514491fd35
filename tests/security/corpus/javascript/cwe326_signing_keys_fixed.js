const crypto = require("crypto");

const KEY_OPTIONS = { modulusLength: 3072, publicExponent: 0x10001 };

function newSigningKeys() {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("rsa", {
    modulusLength: 3072,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  return { publicKey, privateKey, options: KEY_OPTIONS };
}

module.exports = { newSigningKeys };
