// Answers HTTP on $PORT with the greeting the build step wrote.
const http = require("http");
const fs = require("fs");
const greet = require("greeter");
const what = fs.readFileSync(__dirname + "/greeting.txt", "utf8").trim();
http.createServer((req, res) => res.end(greet(what) + "\n")).listen(process.env.PORT, "127.0.0.1");
