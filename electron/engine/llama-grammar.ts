// Grammars for constrained LLM output (a GBNF grammar, JSON, or a JSON schema), built by
// llama.cpp once per distinct text and kept (the 64 most recent) for the jobs that ask again.
import type { GbnfJsonSchema, Llama, LlamaGrammar } from 'node-llama-cpp';
import { IdlerigError } from '../../shared/errors';
import type { EngineParsedParams } from '../../shared/engine-protocol';

type SamplingParams = Omit<EngineParsedParams<'llm.complete'>, 'model' | 'prompt'>;

const MAX_GRAMMARS = 64;

export class GrammarCache {
  private readonly grammars = new Map<string, Promise<LlamaGrammar>>();

  constructor(private readonly llama: () => Promise<Llama>) {}

  /** Forgets every grammar (they belong to a Llama instance that retired). */
  clear(): void {
    this.grammars.clear();
  }

  /** The grammar a job's parameters ask for, or null; INVALID_INPUT when it is not usable. */
  async for(params: SamplingParams): Promise<LlamaGrammar | null> {
    const fmt = params.response_format;
    let key: string;
    let make: (llama: Llama) => Promise<LlamaGrammar>;
    if (params.grammar !== undefined) {
      if (fmt && fmt.type !== 'text')
        throw new IdlerigError('INVALID_INPUT', 'Give either grammar or response_format, not both');
      const gbnf = params.grammar;
      key = `gbnf:${gbnf}`;
      make = (llama) => llama.createGrammar({ grammar: gbnf });
    } else if (fmt?.type === 'json_object') {
      key = 'json';
      make = (llama) => llama.getGrammarFor('json');
    } else if (fmt?.type === 'json_schema') {
      const schema = fmt.json_schema.schema;
      key = `schema:${JSON.stringify(schema)}`;
      // The schema is checked by llama.cpp's converter; unsupported keywords become INVALID_INPUT.
      make = (llama) =>
        (llama.createGrammarForJsonSchema as (s: GbnfJsonSchema) => Promise<LlamaGrammar>).call(
          llama,
          schema as unknown as GbnfJsonSchema,
        );
    } else return null;
    let p = this.grammars.get(key);
    if (!p) {
      p = this.llama().then(make);
      this.grammars.set(key, p);
      p.catch(() => this.grammars.delete(key));
      if (this.grammars.size > MAX_GRAMMARS)
        this.grammars.delete(this.grammars.keys().next().value!);
    }
    try {
      return await p;
    } catch (err) {
      if (err instanceof IdlerigError) throw err;
      throw new IdlerigError(
        'INVALID_INPUT',
        `The ${params.grammar !== undefined ? 'grammar' : 'JSON schema'} is not usable: ${(err as Error).message}`,
      );
    }
  }
}
