// The gateway's HTTP server: the requester APIs (OpenAI-compatible /v1, Open Inference Protocol
// /v2), /metrics, and the providers' WebSocket upgrade on PROVIDER_WS_PATH. Every response
// carries x-request-id; a handler that throws answers 500 and the server goes on.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { PROVIDER_WS_PATH } from '../shared/market-protocol';
import { sendJson } from './http';
import { handleOip } from './oip/routes';
import { sendOpenAiError } from './openai/errors';
import { handleCompletions, handleModel, handleModels } from './openai/routes';
import type { Services } from './services';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function createGatewayServer(
  s: Services,
  opts: {
    maxFrameBytes: number;
    onProvider: (ws: WebSocket) => void;
    onError: (err: unknown) => void;
  },
): { server: Server; wss: WebSocketServer } {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: opts.maxFrameBytes,
    perMessageDeflate: false,
  });
  const server = createServer((req, res) => {
    const incoming = req.headers['x-request-id'];
    const rid =
      typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : `req_${randomUUID()}`;
    res.setHeader('x-request-id', rid);
    route(s, req, res).catch((err: unknown) => {
      opts.onError(err);
      if (!res.headersSent)
        sendOpenAiError(res, 500, 'The gateway failed to handle the request.', 'server_error');
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== PROVIDER_WS_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    socket.on('error', () => undefined);
    wss.handleUpgrade(req, socket, head, (ws) => opts.onProvider(ws));
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
  });
  return { server, wss };
}

async function route(s: Services, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0] as string;
  const method = req.method ?? 'GET';
  if (path === '/v1/chat/completions' || path === '/v1/completions') {
    if (method !== 'POST')
      return sendOpenAiError(res, 405, `Use POST for ${path}`, 'invalid_request_error');
    return handleCompletions(s, path === '/v1/chat/completions' ? 'chat' : 'completion', req, res);
  }
  if (path === '/v1/models') {
    if (method !== 'GET')
      return sendOpenAiError(res, 405, `Use GET for ${path}`, 'invalid_request_error');
    return handleModels(s, req, res);
  }
  if (path.startsWith('/v1/models/')) {
    if (method !== 'GET')
      return sendOpenAiError(res, 405, `Use GET for ${path}`, 'invalid_request_error');
    let id: string;
    try {
      id = decodeURIComponent(path.slice('/v1/models/'.length));
    } catch {
      id = '';
    }
    return handleModel(s, id, req, res);
  }
  if (path === '/v2' || path.startsWith('/v2/')) return handleOip(s, req, res, path);
  if (path === '/metrics' && method === 'GET') {
    const text = await s.metrics.registry.metrics();
    res.writeHead(200, { 'content-type': s.metrics.registry.contentType });
    res.end(text);
    return;
  }
  if (path === '/health' || path === '/')
    return sendJson(res, 200, { ok: true, providers: s.registry.online });
  if (path.startsWith('/v1/')) {
    return sendOpenAiError(
      res,
      404,
      `Unknown request URL: ${method} ${path}.`,
      'invalid_request_error',
      'unknown_url',
    );
  }
  sendJson(res, 404, { error: `Not found: ${path}` });
}
