// Times the original package on the comparison program's workloads, and prints one JSON line:
// {"commits": n, "events": m, "seconds": s}. Only the work itself is timed: starting Node,
// loading the package and reading the events file are not.
//
//   node bench.js append <folder> <events.jsonl>
//       store.log(event) for each line of <events.jsonl> (one event, one commit), in order,
//       into the store in <folder> (created first, untimed)
//   node bench.js replay <folder>
//       store.replayEventStream over the whole store in <folder>, counting the events
//
// The package is found through NODE_PATH.
"use strict";
const fs = require("fs");
const { defineStore } = require("@scriptabuild/eventstore");

function seconds(start) {
	return Number(process.hrtime.bigint() - start) / 1e9;
}

async function append(folder, eventsFile) {
	const events = fs
		.readFileSync(eventsFile, "utf8")
		.split("\n")
		.filter((line) => line.length > 0)
		.map((line) => JSON.parse(line));
	const store = defineStore(folder);
	await store.ensureFolder();
	const start = process.hrtime.bigint();
	for (const event of events) {
		await store.log(event);
	}
	return { commits: events.length, events: events.length, seconds: seconds(start) };
}

async function replay(folder) {
	const store = defineStore(folder);
	let events = 0;
	let commits = 0;
	let lastHeaders = null;
	const start = process.hrtime.bigint();
	await store.replayEventStream((event, headers) => {
		events++;
		// Events of one commit share its headers object.
		if (headers !== lastHeaders) {
			commits++;
			lastHeaders = headers;
		}
	});
	return { commits, events, seconds: seconds(start) };
}

async function main() {
	const [workload, folder, eventsFile] = process.argv.slice(2);
	let result;
	if (workload === "append" && folder && eventsFile) {
		result = await append(folder, eventsFile);
	} else if (workload === "replay" && folder) {
		result = await replay(folder);
	} else {
		throw new Error("usage: node bench.js append <folder> <events.jsonl> | replay <folder>");
	}
	console.log(JSON.stringify(result));
}

main().catch((error) => {
	console.error(error);
	process.exitCode = 1;
});
