// Owns the description of the machine and software a set of figures was measured on.

import { createRequire } from 'node:module';
import os from 'node:os';
import { hybiSource } from './hybi.js';
import { wsAddons } from './peers.js';

const require = createRequire(import.meta.url);

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  platform: string;
  node: string;
  versions: Record<string, string>;
  /** The 1-minute load average when the run started: other work on the machine skews every figure. */
  loadAverage: number;
  /** Which hybi code ran: dist/ (tsc output) unless HYBI_BENCH_SOURCE=src. */
  hybiBuild: string;
  /** ws's optional addons as the ws column loads them (the "no addons" column always runs without). */
  wsAddons: { bufferutil: boolean; utf8Validate: boolean };
}

function versionOf(name: string): string {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

export function describeMachine(): Machine {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${process.platform} ${os.release()} ${process.arch}`,
    node: process.version,
    versions: {
      hybi: (require('../../package.json') as { version: string }).version,
      ws: versionOf('ws'),
      'websocket-driver': versionOf('websocket-driver'),
      'permessage-deflate': versionOf('permessage-deflate'),
      tinybench: versionOf('tinybench'),
    },
    loadAverage: Math.round(os.loadavg()[0]! * 100) / 100,
    hybiBuild: hybiSource(),
    wsAddons: wsAddons(),
  };
}

export function machineLine(machine: Machine): string {
  const addons = machine.wsAddons.bufferutil
    ? 'ws with bufferutil'
    : 'bufferutil NOT installed: the ws column is pure JS';
  const load =
    machine.loadAverage > machine.cores / 2 ? `, BUSY (load average ${machine.loadAverage} at start)` : '';
  return `${machine.cpuModel}, ${machine.cores} cores${load}, ${machine.memoryGiB} GiB, ${machine.platform}, Node ${machine.node}; hybi from ${machine.hybiBuild}; ws ${machine.versions.ws}, websocket-driver ${machine.versions['websocket-driver']}; ${addons}`;
}
