// Prints every event of the store in <folder> as the original package replays it: one JSON line
// {"headers": ..., "event": ...} per event, in order.
//
// Usage: node replay.js <folder>
"use strict";
const { defineStore } = require("@scriptabuild/eventstore");

async function printReplay(store) {
	await store.replayEventStream((event, headers) => {
		console.log(JSON.stringify({ headers, event }));
	});
}

async function main() {
	const [folder] = process.argv.slice(2);
	if (!folder) throw new Error("usage: node replay.js <folder>");
	await printReplay(defineStore(folder));
}

if (require.main === module) {
	main().catch((error) => {
		console.error(error);
		process.exitCode = 1;
	});
}

module.exports = { printReplay };
