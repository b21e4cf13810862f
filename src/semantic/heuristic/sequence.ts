/**
 * "A, then later on the same line B" without a pattern like `A[^\n]*B`. Such a pattern scans the rest
 * of the line again from every place A matches, so a line of 10,000 `curl ` costs 10,000 scans of
 * the line (quadratic); here each line is read a fixed number of times, whatever it holds.
 */
export interface Sequence {
  /** What starts the sequence (`\bgit\s+push\s`). */
  lead: RegExp;
  /** What must follow it: anywhere later on the line, or with `pipe`, at the start of the next command. */
  then: RegExp;
  /** `then` is anchored (`^`) and read in the command after the first `|` that follows `lead`. */
  pipe?: boolean;
}

/** True when `text` holds `seq.lead` followed by `seq.then` on one line. */
export function hasSequence(text: string, seq: Sequence): boolean {
  for (const line of text.split('\n')) {
    if (seq.pipe) {
      // `lead [^|]* | then`: a command that holds `lead`, piped into one that starts with `then`.
      const commands = line.split('|');
      for (let i = 0; i + 1 < commands.length; i++) {
        if (seq.lead.test(commands[i] as string) && seq.then.test(commands[i + 1] as string)) return true;
      }
    } else {
      // The first `lead` leaves the longest rest of the line: if `then` is anywhere after any `lead`,
      // it is after the first.
      const m = seq.lead.exec(line);
      if (m && seq.then.test(line.slice(m.index + m[0].length))) return true;
    }
  }
  return false;
}
