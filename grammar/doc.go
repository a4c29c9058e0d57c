// Package grammar constrains generation to JSON: any JSON value, any object,
// or the values of a JSON Schema. It compiles them to a byte-level grammar and
// tells the sampler which tokens keep the output a valid prefix. It knows
// nothing of models, tokenizers or samplers: it sees token bytes.
//
// # Use
//
// Compile once per request (JSON, JSONObject or FromSchema), Start a State
// per sequence, then at every step:
//
//	s.Allowed(vocab, mask)        // mask[id]: token id may come next
//	allow EOS if s.Done()         // the caller's job: see below
//	sample among the allowed ids
//	s.Advance(vocab[id])          // unless id ended generation
//
// vocab[id] is token id's bytes (tokenizer Piece), with control and
// end-of-generation tokens nil: Vocab builds it. Allowed never allows a token
// with no bytes, so end of generation is the caller's: allow the model's
// end-of-generation tokens exactly when Done reports a complete value, and
// stop there. Done can be true while more tokens are allowed (a top-level
// number may grow). Every prefix the constraint accepts can be completed, so
// with a vocabulary that has a token for every byte (byte-level BPE, or
// SentencePiece with byte fallback) some token is allowed whenever Done is
// false.
//
// # Output shape
//
// Output starts at the first byte of the value and ends at its last: no
// leading or trailing whitespace. Between tokens, whitespace is one space, or
// a newline followed by up to 32 spaces or tabs, or nothing — enough for
// pretty-printing, never an endless run. Integer parts have at most 16
// digits, fractions 16, exponents 2 (so values fit a float64), and strings
// decode to valid Unicode (escaped surrogates come in pairs).
//
// # JSON Schema subset
//
// Supported (draft 2020-12; draft-7 spellings definitions, items as an
// array and additionalItems; draft-4 boolean exclusiveMinimum/Maximum):
//
//   - type (a name or a list); without type, the types the keywords
//     constrain are generated (properties → object, minLength → string…),
//     and with none of them any value
//   - enum and const of any JSON value; beside other keywords, only the
//     values the rest of the schema generates are kept
//   - object: properties, required, additionalProperties (false, true or a
//     schema)
//   - array: items, prefixItems, minItems, maxItems (uniqueItems false)
//   - string: minLength, maxLength (characters, escapes counted as one),
//     pattern (Go RE2 syntax: ECMA-262 without lookaround, backreferences,
//     \b or multi-line anchors; it searches unless anchored with ^ and $; "."
//     excludes all line terminators), format date, time, date-time, uuid,
//     ipv4, hostname, email (other formats are annotations and ignored)
//   - integer and number: minimum, maximum, exclusiveMinimum,
//     exclusiveMaximum (bounded numbers are written without exponent)
//   - anyOf; oneOf when its branches provably cannot match the same value
//     (different types, different const/enum values, or objects told apart
//     by a required property); allOf with a single schema; $ref to a JSON
//     pointer in the same document ($defs, definitions), recursion included
//   - annotations (title, description, default, examples, $schema, $id,
//     $comment, deprecated, readOnly, writeOnly, …) and unknown keywords,
//     which do not change validity, are ignored
//
// Keywords that change validity but are not supported are an error naming
// them: not, if/then/else, dependentRequired, dependentSchemas,
// dependencies, patternProperties, propertyNames, minProperties,
// maxProperties, contains, minContains, maxContains, uniqueItems true,
// multipleOf, unevaluatedProperties, unevaluatedItems, $dynamicRef,
// $recursiveRef; also allOf with several schemas, $ref, anyOf or oneOf
// beside other keywords, remote references and anchors.
//
// The outputs are always valid, but some valid values are never generated:
// properties come in the order the schema declares them, and properties
// not declared only when additionalProperties allows them explicitly (or
// no properties are declared); enum values, keys and pattern-constrained
// strings are spelled one way (no optional escapes); strings stop at 4,096
// characters and arrays at 1,024 items beyond their minimum even when the
// schema allows more; format patterns generate a conservative subset (for
// instance no 29 February).
//
// # Speed
//
// The matcher is a pushdown automaton whose configurations (sets of parse
// stacks) are interned, so each transition is computed once and then looked
// up; Allowed walks a trie of the vocabulary in preorder and skips every
// subtree whose prefix is refused. Over Qwen2's 151,936 tokens a mask takes
// about 2 ms inside a string (nearly every token allowed) and tens of
// microseconds elsewhere; a configuration seen recently (the inside of a
// long string) is served from a cache in microseconds.
package grammar
