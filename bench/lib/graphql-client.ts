import http from 'node:http';

// A lean keep-alive client, so that the load generator (on the same two cores) costs as little as possible and
// the server, not the client, is what a run measures.
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** POSTs a JSON body; resolves with the status and the body of the answer. */
export function postJson(
  url: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Buffer }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        agent,
        method: 'POST',
        hostname: target.hostname,
        port: target.port,
        path: target.pathname,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** POSTs a GraphQL body and resolves with `data`; rejects on HTTP or GraphQL errors. */
export async function postGraphQL(url: string, body: string, token?: string): Promise<unknown> {
  const answer = await postJson(url, body, token ? { authorization: `Bearer ${token}` } : {});
  const json = JSON.parse(answer.body.toString()) as { errors?: unknown[]; data?: unknown };
  if (answer.status !== 200 || json.errors)
    throw new Error(`GraphQL request failed: ${answer.status} ${JSON.stringify(json.errors)}`);
  return json.data;
}
