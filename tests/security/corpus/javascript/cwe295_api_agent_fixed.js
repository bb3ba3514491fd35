const https = require("https");
const fs = require("fs");

const agent = new https.Agent({ keepAlive: true, ca: fs.readFileSync("/etc/ssl/internal-ca.pem") });
module.exports = { agent };
