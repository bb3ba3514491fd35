// Small HTML fragments for the account pages.
const escapeHtml = require("escape-html");

export function greeting(displayName) {
  return `<h2 class="greeting">Hello, ${escapeHtml(displayName)}!</h2>`;
}

export function profileCard(user) {
  const name = escapeHtml(user.name);
  return "<div class=\"card\"><b>" + name + "</b><p>" + escapeHtml(user.bio) + "</p></div>";
}
