// Package train builds small Llama-architecture models from text on the CPU:
// corpora and vocabularies (characters or byte-level BPE), a hand-written
// forward and backward pass, AdamW, a monitor that catches divergence and
// recovers, checkpoints, reports, and export to GGUF files that the model
// package runs unchanged. It knows nothing of servers or chat front ends.
package train
