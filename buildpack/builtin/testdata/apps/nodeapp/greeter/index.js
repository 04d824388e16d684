// A local dependency (file:), so npm install runs without a registry.
module.exports = (what) => "hello from node, " + what;
