// Small HTML fragments for the account pages.

export function greeting(displayName) {
  return `<h2 class="greeting">Hello, ${displayName}!</h2>`;
}

export function profileCard(user) {
  const name = user.name;
  return "<div class=\"card\"><b>" + name + "</b><p>" + user.bio + "</p></div>";
}
