// The media ceiling: a plain Node HTTP server that streams a PUT body to a file and a GET from it, with no
// signatures, sniffing, hashing or database in between. Run as its own process, like the real server.
import { createReadStream, createWriteStream } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

const port = Number(process.env.PORT);
const file = path.join(process.env.COPY_DIR!, 'copy.bin');
const server = createServer((request, response) => {
  if (request.method === 'PUT') {
    pipeline(request, createWriteStream(file)).then(
      () => response.writeHead(200).end(),
      () => response.writeHead(500).end(),
    );
    return;
  }
  if (request.url === '/ready') {
    response.writeHead(200).end('ok');
    return;
  }
  // Reads of 1 MiB, as the local storage driver does.
  response.writeHead(200, { 'content-type': 'application/octet-stream' });
  pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), response).catch(() => response.destroy());
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
