/**
 * Runs `work` again and again, `intervalMs` apart, one run at a time, until `stop()`, which resolves once
 * the run under way has ended. Tests use it to write probe messages until a subscription shows it is live
 * (graphql-ws does not acknowledge one). A run that fails is ignored: the test waits for what it expects to
 * see, not for the probes. A probe still in flight when the test ends would otherwise outlive the server.
 */
export function repeatUntilStopped(work: () => Promise<unknown>, intervalMs: number): { stop(): Promise<void> } {
  let stopped = false;
  const running = (async () => {
    while (!stopped) {
      await work().catch(() => undefined);
      if (!stopped) await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await running;
    },
  };
}
