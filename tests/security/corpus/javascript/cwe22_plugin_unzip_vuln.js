const AdmZip = require("adm-zip");
const fs = require("fs");
const path = require("path");

const PLUGIN_DIR = path.join(__dirname, "plugins");

// Unpack an uploaded plugin bundle into its own folder under plugins/.
function installPlugin(bundlePath, pluginName) {
  const dest = path.join(PLUGIN_DIR, path.basename(pluginName));
  fs.mkdirSync(dest, { recursive: true });
  const zip = new AdmZip(bundlePath);
  for (const entry of zip.getEntries()) {
    const target = path.join(dest, entry.entryName);
    if (entry.isDirectory) {
      fs.mkdirSync(target, { recursive: true });
      continue;
    }
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, entry.getData());
  }
  return dest;
}

module.exports = { installPlugin };
