// `node --import ./record-imports.mjs ...`: appends the URL of every module the process resolves to
// the file named by MCPGOV_IMPORT_LOG, to see what a command loads.
import { register } from 'node:module';

register(
  `data:text/javascript,${encodeURIComponent(`
    import { appendFileSync } from 'node:fs';
    export async function resolve(specifier, context, next) {
      const resolved = await next(specifier, context);
      appendFileSync(process.env.MCPGOV_IMPORT_LOG, resolved.url + '\\n');
      return resolved;
    }
  `)}`,
);
