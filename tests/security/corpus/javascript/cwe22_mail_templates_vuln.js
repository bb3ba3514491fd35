const fs = require("fs");
const path = require("path");

const TEMPLATES = path.join(__dirname, "templates");

function renderTemplate(name, values) {
  const source = fs.readFileSync(path.join(TEMPLATES, name + ".html"), "utf8");
  return source.replace(/\{\{(\w+)\}\}/g, (_, key) => values[key] ?? "");
}

module.exports = { renderTemplate };
