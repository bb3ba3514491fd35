const Stripe = require("stripe");
const stripeSecretKey = "sk_live_51Habc123XYZsecretvalue";
const stripe = Stripe(stripeSecretKey);
module.exports = stripe;
