import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

/** One request the server received. */
export interface SeenRequest {
  method?: string;
  headers: IncomingHttpHeaders;
}

/** A real MCP server over Streamable HTTP (stateless, the SDK's own transport) that records headers. */
export interface RecordingServer {
  url: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

/** Starts it on 127.0.0.1 with one tool, `echo`. */
export async function startRecordingServer(): Promise<RecordingServer> {
  const seen: SeenRequest[] = [];
  const http = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const parsed = body ? (JSON.parse(body) as { method?: string }) : undefined;
      seen.push({ method: parsed?.method, headers: req.headers });
      if (req.method !== 'POST') {
        res.writeHead(405).end();
        return;
      }
      const server = new Server({ name: 'recording', version: '0' }, { capabilities: { tools: {} } });
      server.setRequestHandler(ListToolsRequestSchema, () => ({
        tools: [
          {
            name: 'echo',
            description: 'Echoes a message',
            inputSchema: { type: 'object', properties: { message: { type: 'string' } } },
          },
        ],
      }));
      server.setRequestHandler(CallToolRequestSchema, (request) => ({
        content: [{ type: 'text', text: `Echo: ${String(request.params.arguments?.['message'])}` }],
      }));
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on('close', () => {
        void transport.close();
        void server.close();
      });
      void server.connect(transport).then(() => transport.handleRequest(req, res, parsed));
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}
