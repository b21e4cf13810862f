/** wink-lemmatizer ships no types: WordNet-based lemmas of single lowercase English words. */
declare module 'wink-lemmatizer' {
  const lemmatizer: {
    /** `granted` -> `grant`; returns the word unchanged when it knows no verb lemma. */
    verb(word: string): string;
    /** `files` -> `file`. */
    noun(word: string): string;
    /** `better` -> `good`. */
    adjective(word: string): string;
  };
  export default lemmatizer;
}
