// Runs the checker in a worker thread with a large stack: its search recurses
// once per operation of a key, and a real-time run has thousands per key.
import { parentPort, workerData } from "node:worker_threads";
import { checkHistory, type CheckOptions, type HistoryOp } from "../sim/checker.js";

const { history, options } = workerData as { history: HistoryOp[]; options: CheckOptions };
parentPort!.postMessage(checkHistory(history, options));
