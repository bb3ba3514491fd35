const https = require("https");

const agent = new https.Agent({ keepAlive: true, rejectUnauthorized: false });
module.exports = { agent };
