/** Starting and stopping the loopback servers of local mode (gateway, simulator, emulators). */
import type { Server } from 'node:http';

/** Listens on `host:port` (0 = a free port); rejects with the listen error (e.g. EADDRINUSE). */
export function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Stops listening and closes every connection, idle keep-alive ones included, so the process can exit. */
export function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
}
