package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"zhiyan/engine"
)

// apiError is an error with everything either API dialect needs to report
// it: OpenAI's {"error":{"message","type","param","code"}} or Ollama's
// {"error": message}.
type apiError struct {
	status     int
	typ        string // OpenAI error type
	code       string // OpenAI error code; "" = null
	param      string // the request field at fault; "" = null
	msg        string
	retryAfter int // seconds for Retry-After; 0 = no header
}

func (e *apiError) Error() string { return e.msg }

// invalid is a 400 for a bad value of the request field param.
func invalid(param, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", param: param, msg: fmt.Sprintf(format, args...)}
}

// invalidCode is invalid with an OpenAI error code.
func invalidCode(param, code, format string, args ...any) *apiError {
	e := invalid(param, format, args...)
	e.code = code
	return e
}

func errModelNotFound(name string) *apiError {
	return &apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "model_not_found", param: "model",
		msg: fmt.Sprintf("The model `%s` does not exist: pull it (zhiyan pull NAME, or POST /api/pull) or serve its GGUF file", name)}
}

func errContextLength(prompt, context int) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", code: "context_length_exceeded", param: "messages",
		msg: fmt.Sprintf("This model's maximum context length is %d tokens. However, your messages resulted in %d tokens (one more position is needed to answer). Shorten the prompt or raise the context with --ctx.", context, prompt)}
}

func errUnavailable(code, msg string) *apiError {
	return &apiError{status: http.StatusServiceUnavailable, typ: "service_unavailable_error", code: code, msg: msg, retryAfter: 1}
}

var (
	errBusy         = errUnavailable("server_is_overloaded", "The server is busy: every slot is taken and the queue is full; please try again later")
	errShuttingDown = errUnavailable("server_shutting_down", "The server is shutting down")
	errUnloading    = errUnavailable("model_unloading", "The model was unloaded while the request waited; please try again")
	errNotFound     = &apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "not_found", msg: "No such endpoint"}
)

func errNotImplemented(msg string) *apiError {
	return &apiError{status: http.StatusNotImplemented, typ: "invalid_request_error", code: "not_implemented", msg: msg}
}

// asAPIError classifies any error a handler returns.
func asAPIError(err error) *apiError {
	var ae *apiError
	var ce *engine.ContextError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &mbe):
		return &apiError{status: http.StatusRequestEntityTooLarge, typ: "invalid_request_error", code: "request_too_large",
			msg: fmt.Sprintf("The request body is larger than the limit of %d bytes", mbe.Limit)}
	case errors.As(err, &ce):
		return errContextLength(ce.Prompt, ce.Context)
	case errors.Is(err, engine.ErrBusy):
		return errBusy
	case errors.Is(err, engine.ErrClosed):
		return errUnloading
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The client went away: nobody reads this (Ollama uses 499 too).
		return &apiError{status: 499, typ: "invalid_request_error", code: "request_cancelled", msg: "request cancelled"}
	}
	return &apiError{status: http.StatusInternalServerError, typ: "server_error", msg: "internal error: " + err.Error()}
}

// dialect is the API family a route belongs to: it decides the error shape.
type dialect int

const (
	dialectOpenAI dialect = iota
	dialectOllama
)

// openAIError is OpenAI's error body.
type openAIError struct {
	Error openAIErrorBody `json:"error"`
}

type openAIErrorBody struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// ollamaError is Ollama's error body.
type ollamaError struct {
	Error string `json:"error"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// body returns e in d's shape.
func (d dialect) body(e *apiError) any {
	if d == dialectOllama {
		return ollamaError{Error: e.msg}
	}
	return openAIError{Error: openAIErrorBody{Message: e.msg, Type: e.typ, Param: nullable(e.param), Code: nullable(e.code)}}
}

// writeError writes e as a whole response in d's shape.
func (d dialect) writeError(w http.ResponseWriter, e *apiError) {
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	writeJSON(w, e.status, d.body(e))
}

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only unmarshalable values (NaN) get here: a bug of ours.
		status = http.StatusInternalServerError
		b, _ = json.Marshal(openAIError{Error: openAIErrorBody{Message: "internal error: " + err.Error(), Type: "server_error"}})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
