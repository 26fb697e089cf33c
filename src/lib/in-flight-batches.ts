interface WaitingCall<Input, Output> {
  input: Input;
  resolve: (output: Output) => void;
  reject: (error: unknown) => void;
}

/**
 * Gathers calls into batches, one batch running at a time: the calls that arrive while a batch runs wait and go
 * together in the next one. An idle caller's call goes at once and alone, so batching adds no wait; under load
 * each batch carries what arrived during the last, and N concurrent calls cost a few round trips instead of N.
 * `run` answers its inputs in their order; when it throws, every call of that batch fails with its error.
 */
export class InFlightBatches<Input, Output> {
  private waiting: WaitingCall<Input, Output>[] = [];
  private running = false;

  constructor(
    private readonly run: (inputs: Input[]) => Promise<Output[]>,
    private readonly maxBatch: number,
  ) {}

  add(input: Input): Promise<Output> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ input, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.maxBatch);
      try {
        const outputs = await this.run(batch.map((call) => call.input));
        batch.forEach((call, index) => call.resolve(outputs[index]!));
      } catch (error) {
        for (const call of batch) call.reject(error);
      }
    }
    this.running = false;
  }
}
