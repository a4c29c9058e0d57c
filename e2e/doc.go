// Package e2e tests zhiyan's server end to end: a real listener on
// loopback, the golden models, and the clients people use — the OpenAI Go
// SDK and Ollama's Go client — plus the reliability scenarios (load,
// overload, disconnects, leaks, hostile requests).
//
// It is its own module so the clients' dependencies stay out of zhiyan's
// go.mod. Run it with `cd e2e && go test ./...`; ZHIYAN_E2E_SOAK (a Go
// duration) shortens the 60 s streaming soak for local runs.
package e2e
