// Writes to the store in <folder> with the original package, step by step, then prints the
// store's replay as replay.js does. <steps> is a JSON array of:
//
//   {"log": event}                                  store.log(event)
//   {"logBlock": [events], "complete": bool}        store.logBlock, marked complete only if `complete`
//   {"model": [events]}                             a model's withReadWriteInstance dispatches the
//                                                   events' names and data, then is ready to commit
//
// Usage: node write.js <folder> <steps>
"use strict";
const { defineStore } = require("@scriptabuild/eventstore");
const { printReplay } = require("./replay.js");

// A model that counts the events it folds and whose domain model dispatches what it is given.
function defineRecorder(store) {
	return store.defineModel({
		initializeLogAggregatorData: () => ({ events: 0 }),
		createLogAggregator: (data) => ({
			data,
			fallbackEventHandler() {
				data.events++;
			},
		}),
		createDomainModel: (dispatch) => ({
			record(events) {
				for (const event of events) dispatch(event.name, event.data);
			},
		}),
	});
}

async function main() {
	const [folder, steps] = process.argv.slice(2);
	if (!folder || !steps) throw new Error("usage: node write.js <folder> <steps>");
	const store = defineStore(folder);
	await store.ensureFolder();
	const recorder = defineRecorder(store);

	for (const step of JSON.parse(steps)) {
		if ("log" in step) {
			await store.log(step.log);
		} else if ("logBlock" in step) {
			await store.logBlock((log, markAsComplete) => {
				for (const event of step.logBlock) log(event);
				if (step.complete) markAsComplete();
			});
		} else if ("model" in step) {
			await recorder.withReadWriteInstance((model, readyToCommit) => {
				model.record(step.model);
				readyToCommit();
			});
		} else {
			throw new Error(`unknown step: ${JSON.stringify(step)}`);
		}
	}

	await printReplay(store);
}

main().catch((error) => {
	console.error(error);
	process.exitCode = 1;
});
