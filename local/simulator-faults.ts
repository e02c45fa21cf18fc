/**
 * The transport side of the simulator's injected faults (latency, HTTP 500, a dropped connection, a body
 * that is not JSON), shared by every route faults apply to. The `outcome` and `renewal` faults change
 * answers instead and are applied by the routes themselves.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendText } from './simulator-http';
import type { SimulatorFault } from './simulator-state';

/** Applies transport faults; keeps its latency timers so a stopping server can cancel them. */
export class TransportFaults {
  private readonly pendingTimers = new Set<NodeJS.Timeout>();
  private stopped = false;

  /**
   * Applies the transport side of a fault: true when it answered (or dropped) the request itself, or when
   * the server stopped during a latency fault (the connection is gone then).
   */
  async answered(fault: SimulatorFault, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    switch (fault.mode) {
      case 'none':
      case 'outcome':
      case 'renewal':
        return false;
      case 'latency':
        await this.sleep(fault.latencyMs);
        return this.stopped;
      case 'http500':
        sendText(res, 500, 'Internal Server Error');
        return true;
      case 'drop':
        req.socket.destroy();
        return true;
      case 'garbage':
        res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
        res.end('<html><body>502 Bad Gateway</body></html>\x00\xff{"Identity-Profile":');
        return true;
    }
  }

  /** Ready for a (re)started server. */
  start(): void {
    this.stopped = false;
  }

  /** Cancels pending latency timers; requests waiting on one are then left unanswered. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.pendingTimers) clearTimeout(timer);
    this.pendingTimers.clear();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pendingTimers.delete(timer);
        resolve();
      }, ms);
      this.pendingTimers.add(timer);
    });
  }
}
