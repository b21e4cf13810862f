/** A tool as a downstream server describes it, plus where it lives. */
export interface LiveTool {
  /** Exposed name, `<server>__<tool>`. */
  name: string;
  server: string;
  /** The downstream server's own name for the tool. */
  tool: string;
  /**
   * The definition agents see and stage 2 reads: as received, except that an enforcement point strips
   * invisible characters from it (see `review`); JSON schemas are otherwise passed through untouched.
   */
  definition: Record<string, unknown>;
  /** `sha256:<hex>` over the RFC 8785 form of the definition as the server sent it. */
  digest: string;
  /** What the enforcement point found when the definition loaded; absent outside a running PEP. */
  review?: DefinitionReview;
}

/** What an enforcement point found in a tool's definition when it loaded, and what its config says. */
export interface DefinitionReview {
  /** The digest this enforcement point first saw for the tool (trust on first use, for unpinned tools). */
  firstSeen: string;
  /** A definition that differs from its pin or first-seen digest: blocked whatever the mode, or observed. */
  onChange: 'block' | 'observe';
  /** Hidden instructions found in the definition, and whether the tool is hidden or left to stage 2. */
  poisoned?: { detail: string; action: 'hide' | 'semantic' };
}
