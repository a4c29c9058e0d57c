package main

import (
	"strings"
	"testing"
)

func TestUpstreamConfig(t *testing.T) {
	env := map[string]string{"ZHIYAN_UPSTREAM_KEY_QWEN3_32B": "from-env", "ZHIYAN_UPSTREAM_KEY_OTHER": "env-other"}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		name        string
		specs, keys []string
		want        string // name url remote key, per upstream, or "error: …"
	}{
		{"plain", []string{"big=http://10.0.0.5:8000/v1"}, nil, "big http://10.0.0.5:8000/v1  |"},
		{"remote model and env key", []string{"qwen3:32b=https://gpu.example/v1#Qwen/Qwen3-32B"}, nil,
			"qwen3:32b https://gpu.example/v1 Qwen/Qwen3-32B from-env|"},
		{"flag key beats env", []string{"other=http://h/v1"}, []string{"other=flag"}, "other http://h/v1  flag|"},
		{"key for unknown", []string{"a=http://h/v1"}, []string{"b=k"}, "error: no --upstream"},
		{"key without value", []string{"a=http://h/v1"}, []string{"a="}, "error: NAME=KEY"},
		{"twice", []string{"a=http://h/v1", "a=http://g/v1"}, nil, "error: twice"},
		{"bad scheme", []string{"a=file:///etc/passwd"}, nil, "error: http or https"},
		{"no name", []string{"http://h/v1"}, nil, "error: NAME=URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ups, err := upstreamConfig(tt.specs, tt.keys, getenv)
			var got strings.Builder
			if err != nil {
				got.WriteString("error: " + err.Error())
			}
			for _, u := range ups {
				got.WriteString(u.Name + " " + u.BaseURL + " " + u.RemoteModel + " " + u.APIKey + "|")
			}
			if want, _ := strings.CutPrefix(tt.want, "error: "); want != tt.want {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("got %q, want an error with %q", got.String(), want)
				}
				return
			}
			if got.String() != tt.want {
				t.Fatalf("got %q, want %q", got.String(), tt.want)
			}
		})
	}
}
