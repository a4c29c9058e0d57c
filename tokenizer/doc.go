// Package tokenizer turns text into token ids and back exactly as llama.cpp
// does for the vocabularies stored in GGUF metadata: byte-level BPE ("gpt2")
// and SentencePiece ("llama"). It works on plain data (Vocab) and knows
// nothing about GGUF files, models or chat templates.
//
// The reference is llama.cpp c392e509, which produced the goldens in
// testdata/golden/tokenizer; where llama.cpp has no single answer or would
// crash, this package decides as follows:
//
//   - Pre-tokenizers: the regex families of default, gpt-2 (and its aliases),
//     llama3/llama-bpe, qwen2, deepseek-llm, deepseek-coder, deepseek-v3 and
//     hunyuan-dense, starcoder and falcon, written by hand with llama.cpp's
//     character classes (including its quirks: '~' is neither \p{P} nor \p{S}).
//     An unknown tokenizer.ggml.pre is an error naming the supported ones; an
//     empty one means "default", as in llama.cpp.
//   - Text llama.cpp recognises by name (EOT, EOM, FIM and end-of-generation
//     tokens) becomes a control token only for the names c392e509 knew; names
//     added later only count for tokens already typed control, so ordinary
//     text pieces (Qwen's "</s>") stay ordinary. Where several tokens match,
//     the lowest id wins (llama.cpp: hash-map order).
//   - Special tokens of equal length are matched in id order.
//   - Invalid UTF-8: byte-level BPE sees each bad byte as U+FFFD (as llama.cpp
//     does), SentencePiece falls back to byte tokens; a byte without a byte
//     token becomes UNK (llama.cpp aborts).
//   - New rejects what llama.cpp would mis-handle: array lengths that differ,
//     duplicate texts, token types outside 0..6, byte tokens other than
//     <0xHH>, merges that are not "left right", special ids out of range.
//     Merges whose parts are not tokens are accepted and behave as in
//     llama.cpp (intermediate symbols).
//   - Normalization: none by default, like llama.cpp (the goldens). Vocab.Normalize
//     lets a caller apply NFC to match Hugging Face for Qwen.
//   - Decoding: Decode follows llama_detokenize with special tokens rendered;
//     Decoder streams pieces and never emits a partial UTF-8 character.
package tokenizer
