// The fan-out ceiling: a bare WebSocket server that sends one payload to every connected socket when asked,
// with no GraphQL, no database and no event bus in between. Run as its own process, like the real server.
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const port = Number(process.env.PORT);
const server = createServer((request, response) => {
  if (request.method !== 'POST') {
    response.writeHead(200).end('ok');
    return;
  }
  let body = '';
  request.on('data', (chunk: Buffer) => (body += chunk.toString()));
  // Like the real server: answer the request first, then fan out.
  request.on('end', () => {
    response.writeHead(200).end('sent');
    setImmediate(() => {
      for (const client of sockets.clients) client.send(body);
    });
  });
});
const sockets = new WebSocketServer({ server });
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
