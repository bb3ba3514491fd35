function safeReturnTo(returnTo) {
  const target = new URL(returnTo, "https://app.example.com");
  if (target.hostname.includes("example.com")) {
    return target.toString();
  }
  return "/";
}

module.exports = { safeReturnTo };
