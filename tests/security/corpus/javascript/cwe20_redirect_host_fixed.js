function safeReturnTo(returnTo) {
  const target = new URL(returnTo, "https://app.example.com");
  const host = target.hostname;
  if (host === "example.com" || host.endsWith(".example.com")) {
    return target.toString();
  }
  return "/";
}

module.exports = { safeReturnTo };
