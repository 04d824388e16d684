// The app's "build" script: proves the buildpack runs it.
require("fs").writeFileSync(__dirname + "/greeting.txt", "built\n");
console.log("wrote greeting.txt");
