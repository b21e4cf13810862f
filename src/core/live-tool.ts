/** A tool as a downstream server describes it, plus where it lives. */
export interface LiveTool {
  /** Exposed name, `<server>__<tool>`. */
  name: string;
  server: string;
  /** The downstream server's own name for the tool. */
  tool: string;
  /** The definition as received; JSON schemas are passed through untouched. */
  definition: Record<string, unknown>;
  /** `sha256:<hex>` over the RFC 8785 form of the definition. */
  digest: string;
}
