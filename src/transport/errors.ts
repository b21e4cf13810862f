/** A call to a server that is down or restarting: it never reached the server. */
export class ServerUnavailableError extends Error {
  constructor(
    readonly server: string,
    message = `server "${server}" is unavailable (restarting)`,
  ) {
    super(message);
    this.name = 'ServerUnavailableError';
  }
}
