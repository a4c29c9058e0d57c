package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// upstreamOllamaEmbed is POST /api/embed for an upstream model.
func (s *Server) upstreamOllamaEmbed(w http.ResponseWriter, r *http.Request, u *upstream, _ []byte) (any, error) {
	var req ollamaEmbedRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	if _, err := parseKeepAlive(req.KeepAlive); err != nil {
		return nil, err
	}
	if _, err := parseInputs(req.Input, "input"); err != nil {
		return nil, err
	}
	start := time.Now()
	payload := map[string]any{"model": u.remote(), "input": req.Input}
	if req.Dimensions != nil {
		payload["dimensions"] = *req.Dimensions
	}
	vecs, tokens, err := s.upstreamEmbed(r, u, payload)
	if err != nil {
		return nil, err
	}
	return ollamaEmbedResponse{Model: u.Name, Embeddings: vecs, TotalDuration: time.Since(start).Nanoseconds(), PromptEvalCount: tokens}, nil
}

// upstreamOllamaEmbeddings is the legacy POST /api/embeddings.
func (s *Server) upstreamOllamaEmbeddings(w http.ResponseWriter, r *http.Request, u *upstream, _ []byte) (any, error) {
	var req ollamaEmbeddingsRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	if _, err := parseKeepAlive(req.KeepAlive); err != nil {
		return nil, err
	}
	if req.Prompt == "" {
		return ollamaEmbeddingsResponse{Embedding: []float64{}}, nil
	}
	vecs, _, err := s.upstreamEmbed(r, u, map[string]any{"model": u.remote(), "input": req.Prompt})
	if err != nil {
		return nil, err
	}
	if len(vecs) != 1 {
		return nil, &apiError{status: http.StatusBadGateway, typ: "server_error", code: "upstream_error",
			msg: fmt.Sprintf("upstream error: %d embeddings for one input", len(vecs))}
	}
	out := make([]float64, len(vecs[0]))
	for i, v := range vecs[0] {
		out[i] = float64(v)
	}
	return ollamaEmbeddingsResponse{Embedding: out}, nil
}

// upstreamEmbed asks the upstream's /embeddings and returns the vectors in
// input order and the tokens counted.
func (s *Server) upstreamEmbed(r *http.Request, u *upstream, payload any) ([][]float32, int, error) {
	c := s.ups.newCall(r.Context(), u)
	defer c.end()
	resp, err := c.post("/embeddings", payload)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	var list struct {
		Data  []upstreamEmbedding `json:"data"`
		Usage embeddingUsage      `json:"usage"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		if errors.As(err, &se) || errors.As(err, &te) {
			return nil, 0, &apiError{status: http.StatusBadGateway, typ: "server_error", code: "upstream_error",
				msg: fmt.Sprintf("upstream error: unreadable embeddings from the server of model %s: %v", u.Name, jsonErrText(err))}
		}
		return nil, 0, c.failed(err)
	}
	slices.SortStableFunc(list.Data, func(a, b upstreamEmbedding) int { return a.Index - b.Index })
	vecs := make([][]float32, len(list.Data))
	for i, d := range list.Data {
		vecs[i] = d.Embedding
	}
	s.metrics.promptTokens(u.Name, list.Usage.PromptTokens)
	spend(r.Context(), list.Usage.PromptTokens)
	return vecs, list.Usage.PromptTokens, nil
}

type upstreamEmbedding struct {
	Index     int       `json:"index"`
	Embedding []float32 `json:"embedding"`
}
