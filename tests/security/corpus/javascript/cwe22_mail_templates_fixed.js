const fs = require("fs");
const path = require("path");

const TEMPLATES = path.join(__dirname, "templates");

function renderTemplate(name, values) {
  const file = path.resolve(TEMPLATES, name + ".html");
  if (!file.startsWith(TEMPLATES + path.sep)) {
    throw new Error("unknown template: " + name);
  }
  const source = fs.readFileSync(file, "utf8");
  return source.replace(/\{\{(\w+)\}\}/g, (_, key) => values[key] ?? "");
}

module.exports = { renderTemplate };
