const axios = require("axios");

// Tell a tenant's own deployment that its settings changed.
async function notifyTenant(subdomain, change) {
  const url = `https://hooks.apps.example.com/tenants/${encodeURIComponent(subdomain)}/settings`;
  const r = await axios.post(url, { change }, { timeout: 5000 });
  return r.status;
}

async function tenantHealth(subdomain) {
  const r = await fetch("https://status.apps.example.com/healthz?tenant=" + encodeURIComponent(subdomain));
  return r.ok;
}

module.exports = { notifyTenant, tenantHealth };
