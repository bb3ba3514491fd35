const Stripe = require("stripe");
const stripeSecretKey = process.env.STRIPE_SECRET_KEY;
const stripe = Stripe(stripeSecretKey);
module.exports = stripe;
