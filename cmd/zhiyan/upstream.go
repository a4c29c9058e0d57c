package main

import (
	"fmt"
	"strings"

	"zhiyan/server"
)

// upstreamConfig builds the upstream models from --upstream NAME=URL[#REMOTE]
// and --upstream-key NAME=KEY; a model without a key flag takes its key
// from the environment (server.UpstreamKeyEnv), which, unlike a flag, other
// users cannot read in the process list.
func upstreamConfig(specs, keys []string, getenv func(string) string) ([]server.Upstream, error) {
	var ups []server.Upstream
	index := map[string]int{}
	for _, spec := range specs {
		u, err := server.ParseUpstream(spec)
		if err != nil {
			return nil, err
		}
		if _, dup := index[u.Name]; dup {
			return nil, fmt.Errorf("--upstream %s is given twice", u.Name)
		}
		index[u.Name] = len(ups)
		u.APIKey = getenv(server.UpstreamKeyEnv(u.Name))
		ups = append(ups, u)
	}
	for _, kv := range keys {
		name, key, ok := strings.Cut(kv, "=")
		i, known := index[name]
		switch {
		case !ok || name == "" || key == "":
			return nil, fmt.Errorf("--upstream-key wants NAME=KEY")
		case !known:
			return nil, fmt.Errorf("--upstream-key %s: no --upstream of that name", name)
		}
		ups[i].APIKey = key
	}
	return ups, nil
}
