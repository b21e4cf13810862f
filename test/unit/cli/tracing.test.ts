import { describe, expect, it } from 'vitest';
import { requestedExporters, startTracing } from '../../../src/cli/tracing.js';

describe('which trace exporters the environment asks for', () => {
  it('asks for none when no OTEL_* variable is set: tracing is off by default', () => {
    expect(requestedExporters({})).toEqual([]);
  });

  it('reads OTEL_TRACES_EXPORTER, a comma-separated list', () => {
    expect(requestedExporters({ OTEL_TRACES_EXPORTER: 'otlp' })).toEqual(['otlp']);
    expect(requestedExporters({ OTEL_TRACES_EXPORTER: ' OTLP, console ,otlp' })).toEqual(['otlp', 'console']);
  });

  it('takes an OTLP endpoint alone as asking for the otlp exporter (the specification default)', () => {
    expect(requestedExporters({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toEqual(['otlp']);
    expect(requestedExporters({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c/v1/traces' })).toEqual([
      'otlp',
    ]);
  });

  it('asks for none when told none, or when the SDK is disabled', () => {
    expect(
      requestedExporters({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c' }),
    ).toEqual([]);
    expect(requestedExporters({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' })).toEqual([]);
  });
});

describe('starting tracing', () => {
  it('loads nothing when nothing asks for it', async () => {
    expect(await startTracing({ service: 's', stdio: false, log: () => {}, env: {} })).toBeUndefined();
  });

  it('leaves the console exporter out where stdout carries JSON-RPC, and says so', async () => {
    const lines: string[] = [];
    const env: NodeJS.ProcessEnv = { OTEL_TRACES_EXPORTER: 'console' };
    const tracing = await startTracing({ service: 's', stdio: true, log: (_l, msg) => lines.push(msg), env });
    expect(tracing).toBeUndefined();
    expect(lines).toEqual([
      'the console trace exporter writes to stdout, which carries JSON-RPC here; left out',
    ]);
  });
});
