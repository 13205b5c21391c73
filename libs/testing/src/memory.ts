import { readFileSync, readdirSync } from 'node:fs';

/** The resident set of a process (VmRSS in /proc, Linux), in bytes; 0 once it is gone. */
export function residentSetBytes(pid: number): number {
  try {
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1];
    return kb === undefined ? 0 : Number(kb) * 1024;
  } catch {
    return 0;
  }
}

/** The processes a process started, and theirs, from /proc (every thread's list of children). */
export function descendantPids(pid: number): number[] {
  const found: number[] = [];
  const visit = (parent: number) => {
    let threads: string[];
    try {
      threads = readdirSync(`/proc/${parent}/task`);
    } catch {
      return;
    }
    for (const thread of threads) {
      let children: string;
      try {
        children = readFileSync(`/proc/${parent}/task/${thread}/children`, 'latin1');
      } catch {
        continue;
      }
      for (const child of children.split(' ').filter(Boolean).map(Number)) {
        found.push(child);
        visit(child);
      }
    }
  };
  visit(pid);
  return found;
}

/**
 * Samples the resident set of a process and of every process it started (a service and its
 * worker processes), summed, every `intervalMs`. `rootPid` is asked at each sample, so a
 * restarted service is followed. {@link RssSampler.takePeak} gives the largest sum since the
 * last call and starts over.
 */
export class RssSampler {
  /** Every process seen started by the root process (its pid), since the sampler was made. */
  readonly descendantsSeen = new Set<number>();
  #peak = 0;
  #peakParts = { root: 0, descendants: 0 };
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly rootPid: () => number | undefined,
    intervalMs = 100,
  ) {
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
  }

  /** One sample now; returns the sum in bytes. */
  sample(): number {
    const pid = this.rootPid();
    if (pid === undefined) return 0;
    const root = residentSetBytes(pid);
    const pids = descendantPids(pid);
    for (const child of pids) this.descendantsSeen.add(child);
    const descendants = pids.reduce((sum, child) => sum + residentSetBytes(child), 0);
    if (root + descendants > this.#peak) {
      this.#peak = root + descendants;
      this.#peakParts = { root, descendants };
    }
    return root + descendants;
  }

  /** The largest sum since the last call, in bytes, with its parts (the process, the ones it started); starts over. */
  takePeak(): { bytes: number; root: number; descendants: number } {
    this.sample();
    const peak = { bytes: this.#peak, ...this.#peakParts };
    this.#peak = 0;
    this.#peakParts = { root: 0, descendants: 0 };
    return peak;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
