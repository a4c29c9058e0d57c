package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"zhiyan/internal/progress"
)

// runningModel is what ps reads of GET /api/ps (Ollama's shape).
type runningModel struct {
	Name          string    `json:"name"`
	Digest        string    `json:"digest"`
	Size          int64     `json:"size"`
	ExpiresAt     time.Time `json:"expires_at"`
	ContextLength int       `json:"context_length"`
}

func psCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("ps", "ps [--host HOST] [--port PORT]", stderr)
	host := fs.String("host", envOr("ZHIYAN_HOST", "127.0.0.1"), "the server's address (env ZHIYAN_HOST)")
	port := fs.String("port", envOr("ZHIYAN_PORT", "11435"), "the server's port (env ZHIYAN_PORT)")
	key := fs.String("api-key", apiKeyFromEnv(), "API key, if the server requires one (env ZHIYAN_API_KEY)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return errUsage
	}
	if len(pos) != 0 {
		fs.Usage()
		return errUsage
	}
	h := *host
	if ip := net.ParseIP(h); ip != nil && ip.IsUnspecified() {
		h = "127.0.0.1" // a server listening everywhere answers here too
	}
	base := "http://" + net.JoinHostPort(h, *port)
	models, err := fetchPS(base, *key)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tID\tSIZE\tCONTEXT\tUNTIL")
	now := time.Now()
	for _, m := range models {
		id := m.Digest
		if len(id) > 12 {
			id = id[:12]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", m.Name, id, progress.Bytes(m.Size), m.ContextLength, untilString(m.ExpiresAt, now))
	}
	return tw.Flush()
}

// apiKeyFromEnv is the key serve would take from the environment.
func apiKeyFromEnv() string {
	if k := os.Getenv("ZHIYAN_API_KEY"); k != "" {
		return k
	}
	k, _, _ := strings.Cut(os.Getenv("ZHIYAN_API_KEYS"), ",")
	return strings.TrimSpace(k)
}

// fetchPS asks the server at base for its loaded models.
func fetchPS(base, key string) ([]runningModel, error) {
	req, err := http.NewRequest(http.MethodGet, base+"/api/ps", nil)
	if err != nil {
		return nil, err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("no zhiyan server answers at %s (start one with zhiyan serve, or give --host/--port): %w", base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("reading %s/api/ps: %w", base, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(body))
		}
		return nil, fmt.Errorf("%s/api/ps: %s: %s", base, resp.Status, e.Error)
	}
	var out struct {
		Models []runningModel `json:"models"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("%s/api/ps: not a model list: %w", base, err)
	}
	return out.Models, nil
}

// untilString says when a model will be unloaded, as ollama ps does.
func untilString(t, now time.Time) string {
	d := t.Sub(now)
	switch {
	case t.IsZero(), d <= 0:
		return "Stopping..."
	case d > 10*365*24*time.Hour:
		return "Forever"
	case d < time.Minute:
		return "Less than a minute from now"
	case d < 2*time.Minute:
		return "About a minute from now"
	case d < 2*time.Hour:
		return fmt.Sprintf("%d minutes from now", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d hours from now", int(d/time.Hour))
	}
	return fmt.Sprintf("%d days from now", int(d/(24*time.Hour)))
}
