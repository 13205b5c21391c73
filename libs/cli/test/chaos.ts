import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT, SERVICE_NAMES, spawnService, type ServiceName, type ServiceProcess } from '@docintel/cli';

const run = promisify(execFile);

/** A broker of the fault suite's own (own ports and storage), so killing it disturbs no other test. */
export class PrivateBroker {
  constructor(
    readonly port: number,
    readonly dataDir: string,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  private get env(): NodeJS.ProcessEnv {
    return { ...process.env, KAFKA_PORT: String(this.port), KAFKA_DATA_DIR: this.dataDir, KAFKA_HEAP: '384m' };
  }

  async start(): Promise<void> {
    await run('bash', [path.join(ROOT, 'deploy', 'kafka', 'start.sh')], { env: this.env });
  }

  /** SIGKILL, as a crashed machine would. */
  async kill(): Promise<void> {
    const pid = Number(readFileSync(path.join(this.dataDir, 'kafka.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    for (;;) {
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async stop(): Promise<void> {
    await run('bash', [path.join(ROOT, 'deploy', 'kafka', 'stop.sh')], { env: this.env });
  }
}

/**
 * Keeps the four services running as Kubernetes would: a service that exits (killed, or stopped
 * by a fatal error) is started again, until `stopAll`.
 */
export class Supervisor {
  readonly processes = new Map<ServiceName, ServiceProcess>();
  readonly restarts: Record<ServiceName, number> = { fetch: 0, embed: 0, store: 0, status: 0 };
  readonly kills: Record<ServiceName, number> = { fetch: 0, embed: 0, store: 0, status: 0 };
  #stopping = false;
  #starting = new Map<ServiceName, Promise<void>>();

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly logDir: string,
  ) {}

  async startAll(): Promise<void> {
    await Promise.all(SERVICE_NAMES.map((name) => this.start(name)));
  }

  start(name: ServiceName): Promise<void> {
    const pending = this.#starting.get(name);
    if (pending) return pending;
    const starting = (async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          const service = await spawnService(name, { env: this.env, logFile: path.join(this.logDir, `${name}.log`), startTimeoutMs: 90_000 });
          this.processes.set(name, service);
          service.child.once('exit', () => {
            if (this.#stopping || this.processes.get(name) !== service) return;
            this.restarts[name] += 1;
            void this.start(name);
          });
          return;
        } catch (error) {
          // e.g. the broker is down right now: try again, as a crash-looping pod would
          if (this.#stopping || attempt >= 20) throw error;
        }
      }
    })().finally(() => this.#starting.delete(name));
    this.#starting.set(name, starting);
    return starting;
  }

  /** SIGKILL one service; the exit handler starts it again. */
  async kill(name: ServiceName): Promise<void> {
    await this.#starting.get(name);
    const service = this.processes.get(name);
    if (!service) return;
    this.kills[name] += 1;
    await service.kill();
  }

  async stopAll(): Promise<void> {
    this.#stopping = true;
    await Promise.allSettled([...this.#starting.values()]);
    await Promise.allSettled([...this.processes.values()].map((service) => service.stop(15_000)));
  }
}
