// The clients of the event WebSocket (/api/events). Each gets every node event, one way. Two
// kinds of trouble are handled so that one bad client cannot hurt the node or the others:
// - a client that stops answering (a closed laptop lid, a dead network) is pinged every
//   pingIntervalMs and terminated when it has not answered the previous ping;
// - a client that stops reading (a frozen tab) would make the node buffer every event for it:
//   once its send buffer passes maxBufferedBytes its events are dropped (counted, and logged once
//   per episode) until it catches up.
import type { WebSocket } from 'ws';
import { VERSION } from '../../../shared/version';
import type { ApiEvent, ServerMessage } from '../../../shared/api';
import type { ScopedLogger } from '../logs/logger';
import { bigintReplacer } from './http-util';

export interface EventSocketOptions {
  log: ScopedLogger;
  /** Subscribe to node events; returns the unsubscribe function. */
  subscribe(listener: (event: ApiEvent) => void): () => void;
  /** Default 30 s. */
  pingIntervalMs?: number;
  /** Default 1 MiB. */
  maxBufferedBytes?: number;
}

export interface EventSocketStats {
  clients: number;
  /** Events not sent to a client that was not reading (since the server started). */
  droppedEvents: number;
  /** Clients cut off because they stopped answering pings. */
  terminated: number;
}

interface Client {
  id: number;
  remote: string;
  alive: boolean;
  dropped: number;
  dropping: boolean;
}

export class EventSockets {
  private readonly clients = new Map<WebSocket, Client>();
  private readonly timer: NodeJS.Timeout;
  private readonly maxBuffered: number;
  private nextId = 1;
  private dropped = 0;
  private terminated = 0;

  constructor(private readonly opts: EventSocketOptions) {
    this.maxBuffered = opts.maxBufferedBytes ?? 1024 * 1024;
    this.timer = setInterval(() => this.sweep(), opts.pingIntervalMs ?? 30_000);
    this.timer.unref();
  }

  stats(): EventSocketStats {
    return { clients: this.clients.size, droppedEvents: this.dropped, terminated: this.terminated };
  }

  add(ws: WebSocket, remote: string): void {
    const c: Client = { id: this.nextId++, remote, alive: true, dropped: 0, dropping: false };
    this.clients.set(ws, c);
    ws.on('pong', () => {
      c.alive = true;
    });
    this.send(ws, c, { kind: 'hello', version: VERSION, protocol: 1 });
    const unsubscribe = this.opts.subscribe((event) => this.send(ws, c, { kind: 'event', event }));
    ws.on('close', () => {
      unsubscribe();
      this.clients.delete(ws);
      if (c.dropped > 0)
        this.opts.log.info('event socket client gone', { client: c.id, droppedEvents: c.dropped });
    });
    // The event socket is one-way; anything the page sends is ignored.
    ws.on('message', () => undefined);
    ws.on('error', () => ws.terminate());
  }

  private send(ws: WebSocket, c: Client, msg: ServerMessage): void {
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > this.maxBuffered) {
      c.dropped++;
      this.dropped++;
      if (!c.dropping) {
        c.dropping = true;
        this.opts.log.warn('event socket client is not reading; its events are dropped', {
          client: c.id,
          remote: c.remote,
          bufferedBytes: ws.bufferedAmount,
        });
      }
      return;
    }
    if (c.dropping) {
      c.dropping = false;
      this.opts.log.info('event socket client reads again', {
        client: c.id,
        droppedEvents: c.dropped,
      });
    }
    ws.send(JSON.stringify(msg, bigintReplacer));
  }

  /** Terminates the clients that did not answer the last ping, and pings the others. */
  private sweep(): void {
    for (const [ws, c] of this.clients) {
      if (!c.alive) {
        this.terminated++;
        this.opts.log.warn('event socket client did not answer a ping; disconnected', {
          client: c.id,
          remote: c.remote,
        });
        this.clients.delete(ws);
        ws.terminate();
        continue;
      }
      c.alive = false;
      ws.ping();
    }
  }

  close(): void {
    clearInterval(this.timer);
    for (const ws of this.clients.keys()) ws.close(1001, 'node stopping');
  }
}
