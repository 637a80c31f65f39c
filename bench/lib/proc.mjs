// Process measurements from /proc: CPU (utime+stime deltas) and RSS of server and generator processes.
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let clkTck = 100;
try {
  clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  /* no getconf: Linux's usual 100 ticks a second */
}
const CLK_TCK = clkTck;

/** CPU time (ms, user+system) of one process, or null when it is gone. */
function cpuMs(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // after "pid (comm) ": f[0]=state ... utime is field 14 overall => index 11 here, stime 12
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
  } catch {
    return null;
  }
}

/** Resident set size in KiB (VmRSS), or null. */
export function rssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Whole-machine CPU counters from /proc/stat (jiffies): busy and total. */
export function hostCpu() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = v[3] + (v[4] || 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/**
 * The machine's TCP counters that say a listening socket could not keep up (Linux, all processes):
 * ListenOverflows (a connection dropped because a listener's accept queue was full; the client
 * retries its SYN after 1, 3, 7, 15, 31 s) and TCPSynRetrans. {} where /proc/net/netstat is absent.
 */
export function tcpCounters() {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    const i = lines.findIndex((l) => l.startsWith('TcpExt:'));
    const names = lines[i].split(/\s+/);
    const values = lines[i + 1].split(/\s+/).map(Number);
    const get = (n) => values[names.indexOf(n)] ?? 0;
    return { listenOverflows: get('ListenOverflows'), synRetrans: get('TCPSynRetrans') };
  } catch {
    return {};
  }
}

export function fdLimits() {
  try {
    const m = /Max open files\s+(\d+)\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
    return { soft: Number(m[1]), hard: Number(m[2]) };
  } catch {
    return { soft: 1024, hard: 1024 };
  }
}

/**
 * Samples a set of named process groups over a phase: CPU deltas and peak RSS.
 * groups: { name: [pid, ...] }.
 */
export class PhaseMeter {
  constructor(groups, { sampleMs = 200 } = {}) {
    this.groups = groups;
    this.sampleMs = sampleMs;
  }

  start() {
    this.t0 = performance.now();
    this.cpu0 = {};
    this.peak = {};
    for (const [name, pids] of Object.entries(this.groups)) {
      this.cpu0[name] = pids.map((p) => cpuMs(p) ?? 0);
      this.peak[name] = 0;
    }
    this.host0 = hostCpu();
    this.#sample();
    this.timer = setInterval(() => this.#sample(), this.sampleMs);
    this.timer.unref();
    return this;
  }

  #sample() {
    for (const [name, pids] of Object.entries(this.groups)) {
      let sum = 0;
      for (const p of pids) sum += rssKb(p) ?? 0;
      if (sum > this.peak[name]) this.peak[name] = sum;
    }
  }

  /** { elapsedMs, host: busy fraction, groups: { name: { cpuMs, cores, maxProcCores, rssKb, peakRssKb } } } */
  stop() {
    this.#sample();
    clearInterval(this.timer);
    const elapsedMs = performance.now() - this.t0;
    const h1 = hostCpu();
    const out = { elapsedMs, hostBusy: (h1.busy - this.host0.busy) / Math.max(1, h1.total - this.host0.total), groups: {} };
    for (const [name, pids] of Object.entries(this.groups)) {
      let total = 0;
      let maxProc = 0;
      let rss = 0;
      const procCores = [];
      pids.forEach((p, i) => {
        const d = (cpuMs(p) ?? this.cpu0[name][i]) - this.cpu0[name][i];
        procCores.push(d / elapsedMs);
        total += d;
        if (d > maxProc) maxProc = d;
        rss += rssKb(p) ?? 0;
      });
      out.groups[name] = { cpuMs: total, cores: total / elapsedMs, maxProcCores: maxProc / elapsedMs, procCores, rssKb: rss, peakRssKb: this.peak[name] };
    }
    return out;
  }
}
