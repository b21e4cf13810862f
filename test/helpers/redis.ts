import net from 'node:net';

/** The Redis the project's machines start; `MCPGOV_TEST_REDIS` (host:port) names another. */
const [host = '127.0.0.1', port = '6379'] = (process.env['MCPGOV_TEST_REDIS'] ?? '127.0.0.1:6379').split(':');
export const REDIS = { host, port: Number(port) };
export const REDIS_URL = `redis://${REDIS.host}:${REDIS.port}`;

/** Whether a Redis server answers PING at host:port. */
function answersPing(p: number, h = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: h, port: p });
    socket.setTimeout(1000);
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => done(data.toString().startsWith('+PONG')));
    socket.on('error', () => done(false));
    socket.on('timeout', () => done(false));
  });
}

/**
 * Whether Redis answers. When it does not, the tests that need it are skipped with a message naming
 * the service; with `MCPGOV_REQUIRE_SERVICES=1` (CI on a machine that runs it) that is an error.
 */
export async function redisReachable(what: string): Promise<boolean> {
  if (await answersPing(REDIS.port, REDIS.host)) return true;
  const message = `Redis at ${REDIS.host}:${REDIS.port} is unreachable: not running ${what}`;
  if (process.env['MCPGOV_REQUIRE_SERVICES'] === '1') throw new Error(message);
  console.warn(`SKIPPED: ${message}`);
  return false;
}
