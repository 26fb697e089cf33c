import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// The load generator's own full collection, made callable without starting Node with --expose-gc.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/**
 * The pause between two measured fan-outs. Thousands of clients in this one process make garbage with every
 * message, and a full collection of it, when V8 starts one during a measurement, takes the cores from the server
 * being measured (its concurrent marking shares the machine's two): each such message read ~250 ms slower, in the
 * raw ceiling's measurement as in the server's. So the generator collects here, where nothing is measured.
 */
export async function betweenMessages(): Promise<void> {
  collectGarbage();
  await new Promise((resolve) => setTimeout(resolve, 50));
}
