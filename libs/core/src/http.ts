import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface OpsServerOptions {
  port: number;
  /** @default '0.0.0.0' */
  host?: string;
  registry: Registry;
  /** Ready when every dependency is connected and the consumer has joined its group. */
  ready: () => boolean | Promise<boolean>;
}

export interface OpsServer {
  port: number;
  close(): Promise<void>;
}

/** `/healthz` (the process answers), `/readyz` (it can do work), `/metrics` (Prometheus). */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const server: Server = createServer((request, response) => {
    void (async () => {
      try {
        const path = (request.url ?? '/').split('?')[0];
        if (path === '/healthz') {
          response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        } else if (path === '/readyz') {
          const ready = await options.ready();
          response.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : 'not ready\n');
        } else if (path === '/metrics') {
          const body = await options.registry.metrics();
          response.writeHead(200, { 'content-type': options.registry.contentType }).end(body);
        } else {
          response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        }
      } catch (error) {
        response.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(error)}\n`);
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
