/** Thrown by a forwarder when the downstream server is down or restarting: the call never reached it. */
export class ServerUnavailableError extends Error {
  constructor(
    readonly server: string,
    message = `server "${server}" is unavailable (restarting)`,
  ) {
    super(message);
    this.name = 'ServerUnavailableError';
  }
}
