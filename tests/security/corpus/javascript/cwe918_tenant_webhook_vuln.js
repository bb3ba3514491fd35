const axios = require("axios");

// Tell a tenant's own deployment that its settings changed.
async function notifyTenant(subdomain, change) {
  const url = `https://${subdomain}.apps.example.com/hooks/settings`;
  const r = await axios.post(url, { change }, { timeout: 5000 });
  return r.status;
}

async function tenantHealth(subdomain) {
  const r = await fetch("https://" + subdomain + ".apps.example.com/healthz");
  return r.ok;
}

module.exports = { notifyTenant, tenantHealth };
