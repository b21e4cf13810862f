import { Worker } from 'node:worker_threads';
import type { SemanticAnswer, SemanticInput, SemanticVerifier } from '../types.js';
import type { Thresholds } from './combine.js';

/** How long a new worker may take to load and warm up before the calls waiting for it fail. */
const START_TIMEOUT_MS = 10_000;
/**
 * Heap of the worker: the verifier reads bounded text (limits.ts) and needs a few tens of MiB; a
 * worker that needs more is ended by Node (ERR_WORKER_OUT_OF_MEMORY), the call fails closed, and a
 * new worker takes over, the gateway's own heap untouched.
 */
const MAX_HEAP_MB = 256;

interface Job {
  id: number;
  input: SemanticInput;
  started: number;
  resolve: (answer: SemanticAnswer) => void;
  reject: (err: Error) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

type Message = { ready: true } | { id: number; answer: SemanticAnswer } | { id: number; error: string };

/**
 * The offline verifier in a worker thread, as the gateway and the sidecar run it: the event loop
 * that serves every session never runs the verifier itself. Calls are checked one at a time, in
 * order. When the semantic stage gives up on a call (`semantic.timeout_ms`, through the abort
 * signal), the worker is terminated mid-check and a new one started, so a call that overruns costs
 * its own time budget and nothing more. `mcpgov evals run` calls HeuristicVerifier in-process.
 */
export class ThreadVerifier implements SemanticVerifier {
  readonly name = 'heuristic';
  private worker?: Worker;
  private starting?: Promise<Worker>;
  private readonly queue: Job[] = [];
  private running?: Job;
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly options: {
      thresholds?: Partial<Thresholds>;
      /** The worker's script; the default is thread-entry.js beside this file. */
      entry?: URL;
    } = {},
  ) {}

  /** Starts the worker if none runs; resolves once it is warm. The stage waits for this untimed. */
  async ready(): Promise<void> {
    await this.start();
  }

  /** Queues one check; it settles with the worker's answer, or rejects when `signal` aborts first. */
  verify(input: SemanticInput, options: { signal?: AbortSignal } = {}): Promise<SemanticAnswer> {
    if (this.closed) return Promise.reject(new Error('the semantic verifier is closed'));
    options.signal?.throwIfAborted();
    return new Promise<SemanticAnswer>((resolve, reject) => {
      const job: Job = { id: this.nextId++, input, started: performance.now(), resolve, reject };
      if (options.signal) {
        job.signal = options.signal;
        job.onAbort = () => this.abort(job);
        options.signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.queue.push(job);
      this.pump();
    });
  }

  /** Ends the worker; checks still waiting fail. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) this.settle(job, new Error('the semantic verifier is closed'));
    if (this.running) this.settle(this.running, new Error('the semantic verifier is closed'));
    this.running = undefined;
    const worker = this.worker ?? (await this.starting?.catch(() => undefined));
    this.worker = undefined;
    await worker?.terminate();
  }

  /** Sends the next queued check to the worker when it is free. */
  private pump(): void {
    if (this.running || this.queue.length === 0 || this.closed) return;
    if (!this.worker) {
      this.start().then(
        () => this.pump(),
        (err: Error) => {
          // Nothing to run the checks on: they fail (closed), rather than wait for a worker that
          // may never start. The next call tries again.
          for (const job of this.queue.splice(0)) this.settle(job, err);
        },
      );
      return;
    }
    const job = this.queue.shift() as Job;
    this.running = job;
    this.worker.postMessage({ id: job.id, input: job.input });
  }

  private start(): Promise<Worker> {
    if (this.worker) return Promise.resolve(this.worker);
    if (this.closed) return Promise.reject(new Error('the semantic verifier is closed'));
    this.starting ??= this.spawn().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private spawn(): Promise<Worker> {
    const worker = new Worker(this.options.entry ?? new URL('./thread-entry.js', import.meta.url), {
      workerData: { thresholds: this.options.thresholds },
      resourceLimits: { maxOldGenerationSizeMb: MAX_HEAP_MB },
      // stdout is the wire in stdio mode: whatever the worker prints goes to stderr.
      stdout: true,
    });
    worker.stdout.pipe(process.stderr);
    // A worker waiting for work must not keep the process alive.
    worker.unref();
    return new Promise<Worker>((resolve, reject) => {
      const timer = setTimeout(() => {
        void worker.terminate();
        reject(new Error(`the semantic verifier did not start within ${START_TIMEOUT_MS} ms`));
      }, START_TIMEOUT_MS);
      timer.unref();
      worker.on('message', (message: Message) => {
        if ('ready' in message) {
          clearTimeout(timer);
          this.worker = worker;
          resolve(worker);
        } else this.answer(message);
      });
      worker.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
        this.lost(worker, err);
      });
      worker.on('exit', (code) => {
        clearTimeout(timer);
        const err = new Error(`the semantic verifier's thread exited (code ${code})`);
        reject(err);
        this.lost(worker, err);
      });
    });
  }

  private answer(message: Exclude<Message, { ready: true }>): void {
    const job = this.running;
    if (!job || job.id !== message.id) return;
    this.running = undefined;
    if ('error' in message) this.settle(job, new Error(message.error));
    else {
      const latency = Math.round((performance.now() - job.started) * 1000) / 1000;
      this.settle(job, undefined, {
        ...message.answer,
        provenance: { ...message.answer.provenance, latency_ms: latency },
      });
    }
    this.pump();
  }

  /** The stage gave up on `job`: drop it if queued; if it is running, end the worker under it. */
  private abort(job: Job): void {
    const reason = job.signal?.reason instanceof Error ? job.signal.reason : new Error('aborted');
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.settle(job, reason);
      return;
    }
    if (this.running !== job) return;
    this.running = undefined;
    this.settle(job, reason);
    const worker = this.worker;
    this.worker = undefined;
    void worker?.terminate();
    // A replacement warms up now, not when the next call arrives.
    if (!this.closed)
      this.start().then(
        () => this.pump(),
        () => this.pump(),
      );
  }

  /** A worker died (crash, heap limit, terminate): the check it ran fails; the next one starts anew. */
  private lost(worker: Worker, err: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    const job = this.running;
    this.running = undefined;
    if (job) this.settle(job, err);
    this.pump();
  }

  private settle(job: Job, err: Error | undefined, answer?: SemanticAnswer): void {
    if (job.onAbort) job.signal?.removeEventListener('abort', job.onAbort);
    if (err) job.reject(err);
    else job.resolve(answer as SemanticAnswer);
  }
}
