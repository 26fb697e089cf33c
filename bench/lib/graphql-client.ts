import http from 'node:http';

// A lean keep-alive client, so that the load generator (on the same two cores) costs as little as possible and
// the server, not the client, is what a run measures.
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** POSTs a GraphQL body and resolves with `data`; rejects on HTTP or GraphQL errors. */
export function postGraphQL(url: string, body: string, token?: string): Promise<unknown> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        agent,
        method: 'POST',
        hostname: target.hostname,
        port: target.port,
        path: target.pathname,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const json = JSON.parse(Buffer.concat(chunks).toString()) as { errors?: unknown[]; data?: unknown };
          if (response.statusCode !== 200 || json.errors) {
            reject(new Error(`GraphQL request failed: ${response.statusCode} ${JSON.stringify(json.errors)}`));
          } else resolve(json.data);
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}
