// Prints, as one JSON line, the tutorial membership model's data as the original package
// aggregates it from the store in <folder>: restored from the newest `memberlist` snapshot,
// then folded over the commits after it. With "snapshot" as second argument, it then takes a
// snapshot with the original's model.snapshot().
//
// Usage: node memberlist.js <folder> [snapshot]
"use strict";
const { defineStore } = require("@scriptabuild/eventstore");

function defineMemberList(store) {
	return store.defineModel({
		snapshotName: "memberlist",
		initializeLogAggregatorData: () => ({}),
		createLogAggregator: (data) => ({
			data,
			eventHandlers: {
				onNewMemberRegistered({ member }) {
					if (data[member.name]) throw new Error(`${member.name} is already a member`);
					data[member.name] = { address: member.address, membershipLevel: member.membershipLevel };
				},
				onMembershipEnded({ name }) {
					if (!data[name]) throw new Error(`${name} is not a member`);
					delete data[name];
				},
				onAddressCorrected({ name, address }) {
					if (!data[name]) throw new Error(`${name} is not a member`);
					data[name].address = address;
				},
				onMemberHasMoved({ name, address }) {
					if (!data[name]) throw new Error(`${name} is not a member`);
					data[name].address = address;
				},
			},
			fallbackEventHandler() {
				data.__unhandled = (data.__unhandled || 0) + 1;
			},
		}),
		createDomainModel: () => ({}),
	});
}

async function main() {
	const [folder, action] = process.argv.slice(2);
	if (!folder) throw new Error("usage: node memberlist.js <folder> [snapshot]");
	const model = defineMemberList(defineStore(folder));
	const data = await model.getAggregatorData();
	console.log(JSON.stringify(data));
	if (action === "snapshot") await model.snapshot();
}

main().catch((error) => {
	console.error(error);
	process.exitCode = 1;
});
