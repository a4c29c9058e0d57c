package store

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// DefaultTag is the tag of a name given without one.
const DefaultTag = "latest"

// Name is a validated model name: slash-separated components (an optional
// host and namespace, then the model) and a tag, all lower case, e.g.
// "qwen3:0.6b" or "hf.co/qwen/qwen3-0.6b-gguf:q8_0". Every Name maps to a
// path inside the store and nowhere else.
type Name struct {
	Path string // "qwen3", "hf.co/qwen/qwen3-0.6b-gguf"
	Tag  string // "0.6b", "latest"
}

func (n Name) String() string { return n.Path + ":" + n.Tag }

// Components are ASCII letters, digits, '.', '_' and '-', starting with a
// letter or digit: "." and ".." cannot be written, nor can a separator.
var (
	componentRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,99}$`)
	tagRE       = regexp.MustCompile(`^[a-z0-9_][a-z0-9._-]{0,127}$`)
)

const (
	maxNameLen    = 300
	maxComponents = 4
)

// ParseName validates a model name such as "qwen3:0.6b", "mymodel" (tag
// "latest") or "hf.co/Qwen/Qwen3-0.6B-GGUF:Q8_0". Names are case-insensitive
// and returned in lower case. Traversal ("..", absolute paths, backslashes),
// control bytes and anything outside the allowed characters are rejected.
func ParseName(s string) (Name, error) {
	if err := checkRaw(s); err != nil {
		return Name{}, err
	}
	s = strings.ToLower(s)
	path, tag := s, DefaultTag
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		path, tag = s[:i], s[i+1:]
		if strings.ContainsRune(tag, '/') {
			return Name{}, fmt.Errorf("invalid model name %q: a tag cannot contain '/'", s)
		}
	}
	if strings.ContainsRune(path, ':') {
		return Name{}, fmt.Errorf("invalid model name %q: more than one ':'", s)
	}
	parts := strings.Split(path, "/")
	if len(parts) > maxComponents {
		return Name{}, fmt.Errorf("invalid model name %q: more than %d parts", s, maxComponents)
	}
	for _, p := range parts {
		if err := checkComponent(p); err != nil {
			return Name{}, fmt.Errorf("invalid model name %q: %w", s, err)
		}
	}
	if !tagRE.MatchString(tag) || strings.HasSuffix(tag, ".") || reserved(tag) {
		return Name{}, fmt.Errorf("invalid model name %q: bad tag %q (letters, digits, '.', '_' and '-')", s, tag)
	}
	return Name{Path: path, Tag: tag}, nil
}

// checkRaw rejects what must never reach the parser: the shapes of path
// attacks get their own messages so that logs say what was tried.
func checkRaw(s string) error {
	switch {
	case s == "":
		return errors.New("empty model name")
	case len(s) > maxNameLen:
		return fmt.Errorf("model name longer than %d bytes", maxNameLen)
	case strings.HasPrefix(s, "/") || strings.HasPrefix(s, "\\") || hasDrive(s):
		return fmt.Errorf("invalid model name %q: absolute paths are not names", s)
	case strings.ContainsRune(s, '\\'):
		return fmt.Errorf("invalid model name %q: backslash", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return fmt.Errorf("invalid model name %q: byte 0x%02x at %d", s, s[i], i)
		}
	}
	return nil
}

func hasDrive(s string) bool {
	return len(s) >= 2 && s[1] == ':' && (s[0]|0x20) >= 'a' && (s[0]|0x20) <= 'z' && (len(s) == 2 || s[2] == '/' || s[2] == '\\')
}

func checkComponent(p string) error {
	switch {
	case p == "":
		return errors.New("empty part")
	case p == "." || p == "..":
		return fmt.Errorf("%q is not allowed", p)
	case !componentRE.MatchString(p):
		return fmt.Errorf("bad part %q (letters, digits, '.', '_' and '-', starting with a letter or digit)", p)
	case strings.HasSuffix(p, "."):
		return fmt.Errorf("bad part %q: ends with '.'", p)
	case reserved(p):
		return fmt.Errorf("bad part %q: a reserved device name", p)
	}
	return nil
}

// reserved reports Windows device names, which open devices rather than
// files there whatever the extension.
func reserved(p string) bool {
	base, _, _ := strings.Cut(p, ".")
	switch base {
	case "con", "prn", "aux", "nul":
		return true
	}
	if len(base) == 4 && (strings.HasPrefix(base, "com") || strings.HasPrefix(base, "lpt")) && base[3] >= '0' && base[3] <= '9' {
		return true
	}
	return false
}

// dirName is the one directory level a name occupies under manifests/: '+'
// cannot occur in a component, so "hf.co/a/b" and "hf.co+a/b" never collide.
func (n Name) dirName() string { return strings.ReplaceAll(n.Path, "/", "+") }

// nameFromDir inverts dirName for a directory found on disk.
func nameFromDir(dir, tag string) (Name, error) {
	return ParseName(strings.ReplaceAll(dir, "+", "/") + ":" + tag)
}

// Digest is a validated sha256 content digest. The zero Digest means
// "unknown".
type Digest struct{ hex string }

var digestRE = regexp.MustCompile(`^sha256[:-][0-9a-f]{64}$`)

// ParseDigest accepts "sha256:<64 lower-case hex>" or "sha256-<hex>" and
// nothing else: no other lengths, no upper case, no path characters.
func ParseDigest(s string) (Digest, error) {
	if !digestRE.MatchString(s) {
		if len(s) > 80 {
			s = s[:80] + "…"
		}
		return Digest{}, fmt.Errorf("invalid digest %q: want sha256:<64 lower-case hex digits>", s)
	}
	return Digest{hex: s[len("sha256:"):]}, nil
}

// digestFromHex makes a Digest from 64 hex digits of either case, as hubs
// publish them in ETags and listings; anything else gives the zero Digest.
func digestFromHex(s string) Digest {
	s = strings.ToLower(s)
	if len(s) != 64 {
		return Digest{}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return Digest{}
		}
	}
	return Digest{hex: s}
}

func (d Digest) String() string {
	if d.hex == "" {
		return ""
	}
	return "sha256:" + d.hex
}

// Hex is the 64 hex digits.
func (d Digest) Hex() string { return d.hex }

// IsZero reports an unknown digest.
func (d Digest) IsZero() bool { return d.hex == "" }

// Short is the first 12 hex digits, as listings show them.
func (d Digest) Short() string {
	if len(d.hex) < 12 {
		return d.hex
	}
	return d.hex[:12]
}

func (d Digest) fileName() string { return "sha256-" + d.hex }
