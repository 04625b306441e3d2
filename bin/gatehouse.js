#!/usr/bin/env node
import cluster from 'node:cluster';
import { main } from '../dist/src/cli/main.js';

// A worker of a multi-process gateway holds an IPC channel to its primary: let go of it when done.
// (cluster.worker.disconnect, not process.disconnect: the latter makes Node exit the worker with 0
// at once, and the primary would not learn the real exit code.)
const release = () => {
  if (cluster.isWorker && cluster.worker) cluster.worker.disconnect();
  else if (process.connected) process.disconnect();
};
main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; release(); },
  (err) => { console.error(err instanceof Error ? err.message : String(err)); process.exitCode = 1; release(); },
);
