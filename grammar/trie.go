package grammar

import (
	"bytes"
	"slices"
	"sync"
)

// vocabTrie is a vocabulary's token bytes as a trie laid out in preorder, so
// Allowed walks it as a flat loop and skips a rejected subtree by jumping to
// its end.
type vocabTrie struct {
	nodes []trieNode // preorder, plus a sentinel
	toks  []int32    // token ids, in node order: node i ends toks[nodes[i].tok:nodes[i+1].tok]
	size  int        // vocabulary size
	depth int        // longest token, in bytes
}

type trieNode struct {
	end   int32  // index just past this node's subtree
	tok   int32  // first entry of toks ending at this node
	depth uint16 // bytes from the root: 1 for the first byte
	b     byte
}

// maxTokenBytes bounds the tokens the trie holds; longer ones (none in real
// vocabularies) are never allowed.
const maxTokenBytes = 1<<16 - 1

func newVocabTrie(vocab [][]byte) *vocabTrie {
	ids := make([]int32, 0, len(vocab))
	for id, t := range vocab {
		if len(t) > 0 && len(t) <= maxTokenBytes {
			ids = append(ids, int32(id))
		}
	}
	slices.SortFunc(ids, func(a, b int32) int { return bytes.Compare(vocab[a], vocab[b]) })
	t := &vocabTrie{size: len(vocab), toks: make([]int32, 0, len(ids))}
	var path []int32 // open node at each depth-1
	var prev []byte
	for _, id := range ids {
		tok := vocab[id]
		l := 0
		for l < len(prev) && l < len(tok) && prev[l] == tok[l] {
			l++
		}
		for len(path) > l {
			t.nodes[path[len(path)-1]].end = int32(len(t.nodes))
			path = path[:len(path)-1]
		}
		for d := l; d < len(tok); d++ {
			path = append(path, int32(len(t.nodes)))
			t.nodes = append(t.nodes, trieNode{b: tok[d], depth: uint16(d + 1), tok: int32(len(t.toks))})
		}
		t.toks = append(t.toks, id)
		t.depth = max(t.depth, len(tok))
		prev = tok
	}
	for _, n := range path {
		t.nodes[n].end = int32(len(t.nodes))
	}
	t.nodes = append(t.nodes, trieNode{tok: int32(len(t.toks))})
	return t
}

// Tries are cached by the identity of the vocabulary slice: callers pass the
// same [][]byte for every step of every request on a model.
var trieCache struct {
	mu      sync.Mutex
	entries []trieEntry // most recently used first
}

type trieEntry struct {
	first *[]byte
	n     int
	trie  *vocabTrie
}

const trieCacheSize = 4

func trieFor(vocab [][]byte) *vocabTrie {
	if len(vocab) == 0 {
		return &vocabTrie{nodes: []trieNode{{}}}
	}
	first := &vocab[0]
	trieCache.mu.Lock()
	defer trieCache.mu.Unlock()
	es := trieCache.entries
	for i, e := range es {
		if e.first == first && e.n == len(vocab) {
			copy(es[1:i+1], es[:i])
			es[0] = e
			return e.trie
		}
	}
	e := trieEntry{first: first, n: len(vocab), trie: newVocabTrie(vocab)}
	if len(es) < trieCacheSize {
		es = append(es, trieEntry{})
	}
	copy(es[1:], es)
	es[0] = e
	trieCache.entries = es
	return e.trie
}
